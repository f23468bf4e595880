import Foundation

/// A progress line on stderr for long work ("integrate: 12/100 frames, 3 s, about 22 s left"),
/// rewritten in place; shown only when stderr is a terminal (or when forced), so that make's
/// logs and pipes get nothing extra.
public final class ProgressLine: @unchecked Sendable {
    let task: String
    let unit: String
    let enabled: Bool
    let start = Date()
    private var lastDraw = Date.distantPast

    /// `force` shows the line even when stderr is not a terminal (`--progress`).
    public init(_ task: String, unit: String, force: Bool = false) {
        self.task = task
        self.unit = unit
        enabled = force || isatty(STDERR_FILENO) == 1
    }

    /// Reports `done` of `total`; draws at most ten times a second, and always the last step.
    public func update(_ done: Int, of total: Int) {
        guard enabled else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        var line = "\(task): \(done)/\(total) \(unit), \(Self.duration(elapsed))"
        if done > 0, done < total {
            line += ", about \(Self.duration(elapsed / Double(done) * Double(total - done))) left"
        }
        let end = done >= total ? "\n" : ""
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + end).utf8))
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 60
            ? String(format: "%.0f s", seconds) : String(format: "%d min %02d s", Int(seconds) / 60, Int(seconds) % 60)
    }
}
