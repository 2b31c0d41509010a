import Testing
@testable import VoiceCore

/// The C inner-product kernels: every instruction-set level this CPU has agrees with a plain
/// double-precision sum, for dimensions that exercise the vector bodies and their tails.
@Suite struct VectorKernelTests {
    @Test func everyLevelMatchesAPlainSum() {
        var rng = SplitMix(state: 11)
        for dim in [1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 384, 385] {
            let rows = 13, nq = 5
            let data = (0..<(rows * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
            let queries = (0..<(nq * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
            for level in Int32(0)...Int32(2) {
                let k = VectorKernels(level: level)
                var out = [Float](repeating: .nan, count: nq * rows)
                var gathered = [Float](repeating: .nan, count: rows)
                let ids = (0..<rows).map { Int32(($0 * 7) % rows) }
                data.withUnsafeBufferPointer { d in
                    queries.withUnsafeBufferPointer { q in
                        out.withUnsafeMutableBufferPointer { o in k.dotBlock(q.baseAddress!, nq, d.baseAddress!, rows, dim, o.baseAddress!) }
                        ids.withUnsafeBufferPointer { i in
                            gathered.withUnsafeMutableBufferPointer { g in k.dotGather(q.baseAddress!, d.baseAddress!, dim, i.baseAddress!, rows, g.baseAddress!) }
                        }
                        for i in 0..<nq {
                            for r in 0..<rows {
                                var want = 0.0
                                for j in 0..<dim { want += Double(q[i * dim + j]) * Double(d[r * dim + j]) }
                                let single = k.dot(q.baseAddress! + i * dim, d.baseAddress! + r * dim, dim)
                                #expect(abs(Double(out[i * rows + r]) - want) < 1e-4, "block level \(k.name) dim \(dim)")
                                #expect(abs(Double(single) - want) < 1e-4, "dot level \(k.name) dim \(dim)")
                                if i == 0 {
                                    let slot = ids.firstIndex(of: Int32(r))!
                                    #expect(abs(Double(gathered[slot]) - want) < 1e-4, "gather level \(k.name) dim \(dim)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One query scored alone and in a batch gets bit-identical scores, so `search_many` returns
    /// exactly what `search` does.
    @Test func batchAndSingleScoresAreIdentical() {
        var rng = SplitMix(state: 3)
        let dim = 384, rows = 150
        let data = (0..<(rows * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
        let queries = (0..<(3 * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
        let k = VectorKernels()
        var batch = [Float](repeating: 0, count: 3 * rows), single = [Float](repeating: 0, count: rows)
        data.withUnsafeBufferPointer { d in
            queries.withUnsafeBufferPointer { q in
                batch.withUnsafeMutableBufferPointer { k.dotBlock(q.baseAddress!, 3, d.baseAddress!, rows, dim, $0.baseAddress!) }
                single.withUnsafeMutableBufferPointer { k.dotBlock(q.baseAddress! + dim, 1, d.baseAddress!, rows, dim, $0.baseAddress!) }
            }
        }
        #expect(Array(batch[rows..<(2 * rows)]) == single)
    }
}
