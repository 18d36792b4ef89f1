import FuzzSupport
import HVReplay

/// Reads the input as a model file (`--model FILE`) over the default model and checks:
///
/// - a failure is one `HVReplayError` with exit code 65 naming the file;
/// - the model written as JSON and read over a fresh default model is the same model, and
///   writing it again gives the same text byte for byte.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  FuzzFile.store(start, count)
  var model = Model()
  do {
    try model.load(file: FuzzFile.path)
  } catch {
    checkDataError(error, file: FuzzFile.path)
    return 0
  }
  let text = model.json.serialized()
  FuzzFile.store(Array(text.utf8))
  var again = Model()
  do {
    try again.load(file: FuzzFile.path)
  } catch {
    fatalError("the model written as JSON does not read back: \(error)")
  }
  if again != model {
    fatalError("model JSON round trip changed: \(model.differences(from: again))")
  }
  if again.json.serialized() != text { fatalError("model JSON is not stable") }
  return 0
}
