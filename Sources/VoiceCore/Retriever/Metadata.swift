/// A metadata value: a string, a number, or a date (an ISO-8601 "YYYY-MM-DD[THH:MM[:SS]]" string,
/// compared as a point in time). Dates keep their original text for display.
enum MetaValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case date(Double, String)

    init(json: JSON, key: String) throws(VCError) {
        switch json {
        case .number(let n): self = .number(n)
        case .string(let s): self = MetaValue.parseDate(s).map { .date($0, s) } ?? .string(s)
        case .bool(let b): self = .string(b ? "true" : "false")
        default: throw VCError(.invalidArgument, "metadata \"\(key)\" must be a string, number or date")
        }
    }

    var json: JSON {
        switch self {
        case .string(let s): return .string(s)
        case .number(let n): return .number(n)
        case .date(_, let s): return .string(s)
        }
    }

    /// Seconds since 1970-01-01T00:00:00 (UTC assumed) for an ISO date, or nil.
    static func parseDate(_ s: String) -> Double? {
        let b = Array(s.utf8)
        guard b.count == 10 || (b.count >= 16 && b.count <= 25) else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            var v = 0
            for k in from..<(from + len) {
                guard k < b.count, b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            return v
        }
        guard let y = num(0, 4), b[4] == UInt8(ascii: "-"), let m = num(5, 2), b[7] == UInt8(ascii: "-"), let d = num(8, 2),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        var seconds = 0
        if b.count > 10 {
            guard b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), let hh = num(11, 2), b[13] == UInt8(ascii: ":"),
                  let mm = num(14, 2), hh < 24, mm < 60 else { return nil }
            seconds = hh * 3600 + mm * 60
            if b.count >= 19, b[16] == UInt8(ascii: ":") {
                guard let ss = num(17, 2), ss < 61 else { return nil }
                seconds += ss
            }
        }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + seconds)
    }

    /// Ordering between values of the same kind; nil when kinds differ (the condition fails).
    func compare(_ other: MetaValue) -> Int? {
        switch (self, other) {
        case let (.number(a), .number(b)): return a < b ? -1 : (a > b ? 1 : 0)
        case let (.date(a, _), .date(b, _)): return a < b ? -1 : (a > b ? 1 : 0)
        case let (.string(a), .string(b)): return a < b ? -1 : (a > b ? 1 : 0)
        default: return nil
        }
    }
}

typealias Metadata = [(key: String, value: MetaValue)]

func parseMetadata(_ json: JSON?) throws(VCError) -> Metadata {
    guard let json, json != .null else { return [] }
    guard case .object(let members) = json else { throw VCError(.invalidArgument, "metadata must be a JSON object") }
    var out: Metadata = []
    for (k, v) in members { out.append((k, try MetaValue(json: v, key: k))) }
    return out
}

func metadataJSON(_ m: Metadata) -> JSON { .object(m.map { ($0.key, $0.value.json) }) }

/// A metadata filter: every condition must hold. `{"lang": "en"}` is equality;
/// `{"year": {"gte": 2020, "lt": 2025}}` a range; `{"lang": {"in": ["en", "ru"]}}` a set;
/// `ne` and `nin` negate (and also hold when the field is missing).
struct MetadataFilter: Sendable {
    enum Op: String, Sendable { case eq, ne, gt, gte, lt, lte, `in`, nin }
    struct Condition: Sendable { var key: String; var op: Op; var values: [MetaValue] }
    var conditions: [Condition] = []

    init(json: JSON?) throws(VCError) {
        guard let json, json != .null else { return }
        guard case .object(let members) = json else { throw VCError(.invalidArgument, "filter must be a JSON object") }
        for (key, spec) in members {
            if case .object(let ops) = spec {
                for (name, operand) in ops {
                    guard let op = Op(rawValue: name) else {
                        throw VCError(.invalidArgument, "filter on \"\(key)\": unknown operator \"\(name)\" (eq, ne, gt, gte, lt, lte, in, nin)")
                    }
                    var values: [MetaValue] = []
                    if op == .in || op == .nin {
                        guard case .array(let items) = operand else { throw VCError(.invalidArgument, "filter on \"\(key)\": \"\(name)\" needs an array") }
                        for item in items { values.append(try MetaValue(json: item, key: key)) }
                    } else {
                        values.append(try MetaValue(json: operand, key: key))
                    }
                    conditions.append(Condition(key: key, op: op, values: values))
                }
            } else if case .array(let items) = spec {
                var values: [MetaValue] = []
                for item in items { values.append(try MetaValue(json: item, key: key)) }
                conditions.append(Condition(key: key, op: .in, values: values))
            } else {
                conditions.append(Condition(key: key, op: .eq, values: [try MetaValue(json: spec, key: key)]))
            }
        }
    }

    var isEmpty: Bool { conditions.isEmpty }

    func matches(_ metadata: Metadata) -> Bool {
        for c in conditions {
            var found: MetaValue? = nil
            for entry in metadata where entry.key == c.key { found = entry.value; break }
            guard let v = found else {
                if c.op == .ne || c.op == .nin { continue }
                return false
            }
            let ok: Bool
            switch c.op {
            case .eq: ok = v.compare(c.values[0]) == 0
            case .ne: ok = v.compare(c.values[0]) != 0
            case .gt: ok = (v.compare(c.values[0]) ?? -2) > 0
            case .gte: ok = (v.compare(c.values[0]) ?? -2) >= 0
            case .lt: ok = (v.compare(c.values[0]) ?? 2) < 0
            case .lte: ok = (v.compare(c.values[0]) ?? 2) <= 0
            case .in: ok = c.values.contains { v.compare($0) == 0 }
            case .nin: ok = !c.values.contains { v.compare($0) == 0 }
            }
            if !ok { return false }
        }
        return true
    }
}
