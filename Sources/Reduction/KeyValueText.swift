import BeamlineSupport
import Foundation

/// The one `key = value` format of the files the stages exchange (pressure records, the
/// S(Q) refinement line): one entry per line, `#` comments, keys of letters, digits and `_`.
/// Reading keeps the file order and names the file and line of anything malformed.
public struct KeyValueText: Sendable, Equatable {
    public var entries: [(key: String, value: String)]
    /// Comment lines (without `# `), in order.
    public var comments: [String]

    public init(entries: [(key: String, value: String)] = [], comments: [String] = []) {
        self.entries = entries
        self.comments = comments
    }

    public static func == (a: KeyValueText, b: KeyValueText) -> Bool {
        a.comments == b.comments && a.entries.map(\.key) == b.entries.map(\.key)
            && a.entries.map(\.value) == b.entries.map(\.value)
    }

    public subscript(key: String) -> String? { entries.last { $0.key == key }?.value }

    /// Parses `text`; `path` names the file in errors.
    public init(parsing text: String, path: String) throws {
        self.init()
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                comments.append(String(line.dropFirst().drop { $0 == " " }))
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw BeamlineError(path: path, "line \(number + 1): expected key = value, got \"\(line.prefix(60))\"")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw BeamlineError(path: path, "line \(number + 1): \"\(key)\" is not a key")
            }
            entries.append((key, value))
        }
    }

    /// Reads the file at `path`.
    public init(contentsOf path: String) throws {
        try self.init(parsing: try InputFile.text(of: path), path: path)
    }

    /// The value of `key` as a number: nil when absent, an error naming the file when not a number.
    public func number(_ key: String, path: String) throws -> Double? {
        guard let text = self[key] else { return nil }
        guard let value = Double(text) else { throw BeamlineError(path: path, "\(key) = \(text) is not a number") }
        return value
    }

    /// The text: comments first, then `key=value` lines.
    public var text: String {
        comments.map { "# " + $0 + "\n" }.joined() + entries.map { "\($0.key)=\($0.value)\n" }.joined()
    }
}

extension KeyValueText {
    /// The `key=value` words of one header line (`refined: bg_scale=0.93 density=0.05 ...`):
    /// the same format on one line, for values without spaces. Other words are skipped.
    public init(words line: String) {
        self.init()
        for word in line.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { entries.append((String(parts[0]), String(parts[1]))) }
        }
    }

    /// The entries as one line of `key=value` words.
    public var words: String { entries.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
}
