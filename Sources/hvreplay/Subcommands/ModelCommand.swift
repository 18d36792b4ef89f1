import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "model",
      abstract: "Print the effective model as JSON (defaults, then --model, then --set).",
      discussion: """
        The output is a valid --model file. docs/MODEL.md gives every rule and the source of
        every default. With --keys, lists each key with its unit and meaning instead.
        """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "List the keys with their units and meanings.")
    var keys = false

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        let model = try modelOptions.effectiveModel()
        var text = ""
        if keys {
          for key in Model.keys {
            let value = key.value(in: model).serialized(pretty: false)
            text +=
              "\(key.path) = \(value)\(key.unit.isEmpty ? "" : " " + key.unit)\n    \(key.meaning)\n"
          }
        } else {
          text = model.json.serialized() + "\n"
        }
        do { try writeStandardOutput(text) } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}
