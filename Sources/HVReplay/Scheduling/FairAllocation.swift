// Entitlement and fairness. Entitled shares follow weighted max-min fairness (water-filling):
// capacity is shared by weight among the VMs that want CPU; a VM never gets more than it asks
// for, its cap allows, or its vCPUs can use, and what it leaves goes to the others by weight.
// Jain's index: J = (sum x_i)^2 / (n * sum x_i^2) (docs/REFERENCES.md [Jain84]).

enum FairAllocation {
  /// Weighted max-min fair shares of `capacity` among claimants with `weights` and `limits`.
  ///
  /// - Returns: each claimant's allocation (same order), summing to at most `capacity`.
  static func waterFill(capacity: Double, weights: [Double], limits: [Double]) -> [Double] {
    var allocation = [Double](repeating: 0, count: weights.count)
    // In index order throughout, so that the sums, and so the shares to the last digit, are
    // the same on every run (a Set's order is not).
    var open = weights.indices.filter { weights[$0] > 0 && limits[$0] > 0 }
    var left = capacity
    while !open.isEmpty && left > 1e-9 {
      let total = open.reduce(0.0) { $0 + weights[$1] }
      // Claimants whose limit is below their weighted part are satisfied first.
      let saturated = open.filter { limits[$0] - allocation[$0] <= left * weights[$0] / total }
      if saturated.isEmpty {
        for i in open { allocation[i] += left * weights[i] / total }
        break
      }
      for i in saturated {
        left -= limits[i] - allocation[i]
        allocation[i] = limits[i]
      }
      let done = Set(saturated)
      open.removeAll { done.contains($0) }
    }
    return allocation
  }

  /// Jain's fairness index of `x`: 1 when all equal, 1/n when one has everything.
  static func jainIndex(_ x: [Double]) -> Double {
    guard !x.isEmpty else { return 1 }
    let sum = x.reduce(0, +)
    let squares = x.reduce(0) { $0 + $1 * $1 }
    return squares > 0 ? sum * sum / (Double(x.count) * squares) : 1
  }
}
