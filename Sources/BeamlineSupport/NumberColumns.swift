#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rows of numbers in printf's notation, written through C's snprintf: Foundation's
/// String(format:) boxes every argument and costs microseconds a number, which dominated
/// writing patterns of thousands of rows.
public enum NumberColumns {
    /// Appends `values` to `text`, each in the printf conversion `format` for one double
    /// (such as "%.9e" or "%15.8e"), separated by single spaces and ended by a newline.
    public static func appendRow(_ values: Double..., format: String, to text: inout String) {
        appendRow(values, format: format, to: &text)
    }

    /// `appendRow` with the values in an array.
    public static func appendRow(_ values: [Double], format: String, to text: inout String) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            for (index, value) in values.enumerated() {
                if index > 0 { text += " " }
                let written = format.withCString { spec in
                    withVaList([value]) { vsnprintf(buffer.baseAddress!, 64, spec, $0) }
                }
                let length = Int(max(0, min(written, 63)))
                let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: length)
                text += String(decoding: bytes, as: UTF8.self)
            }
        }
        text += "\n"
    }
}
