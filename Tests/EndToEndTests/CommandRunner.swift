import Foundation

/// The result of running a command.
struct CommandResult {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs the built `hvreplay` executable as a user would.
enum HVReplay {
  /// The directory holding the built products (beside the test bundle).
  static let productsDirectory: URL = {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.path != "/" {
      url.deleteLastPathComponent()
      if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("hvreplay").path) {
        return url
      }
    }
    fatalError("cannot find the built hvreplay executable near \(CommandLine.arguments[0])")
  }()

  static var executable: String { productsDirectory.appendingPathComponent("hvreplay").path }

  /// The repository root (for Traces/, Reports/ and Tests/Fixtures/).
  static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// Runs `hvreplay` with `arguments`, optionally feeding `stdin`.
  @discardableResult
  static func run(_ arguments: [String], stdin: Data? = nil, in directory: String? = nil)
    throws -> CommandResult
  {
    try runProcess(executable, arguments, stdin: stdin, in: directory)
  }

  /// Runs `command` through `/bin/sh -c` with `HVREPLAY` set to the executable.
  static func shell(_ command: String, in directory: String? = nil) throws -> CommandResult {
    try runProcess(
      "/bin/sh", ["-c", command], stdin: nil, in: directory,
      extraEnvironment: ["HVREPLAY": executable])
  }

  static func runProcess(
    _ path: String, _ arguments: [String], stdin: Data?, in directory: String?,
    extraEnvironment: [String: String] = [:]
  ) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in extraEnvironment { environment[k] = v }
    process.environment = environment
    // Files rather than pipes: nothing can block, whatever the child writes.
    let base = NSTemporaryDirectory() + "hvreplay-run-" + UUID().uuidString
    defer {
      for suffix in [".in", ".out", ".err"] {
        try? FileManager.default.removeItem(atPath: base + suffix)
      }
    }
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
    process.standardError = FileHandle(forWritingAtPath: base + ".err")
    if let stdin {
      FileManager.default.createFile(atPath: base + ".in", contents: stdin)
      process.standardInput = FileHandle(forReadingAtPath: base + ".in")
    } else {
      process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    process.waitUntilExit()
    let outData = FileManager.default.contents(atPath: base + ".out") ?? Data()
    let errData = FileManager.default.contents(atPath: base + ".err") ?? Data()
    return CommandResult(
      status: process.terminationStatus,
      stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }
}

/// A fresh temporary directory, removed when released.
final class Scratch {
  let path: String

  init() {
    path = NSTemporaryDirectory() + "hvreplay-e2e-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }

  var contents: [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? []
  }
}
