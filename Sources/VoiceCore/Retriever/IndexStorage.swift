#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reading and writing index files: memory-mapped reads, and crash-safe writes (a temporary
/// file in the same directory, fsync, rename over the target, fsync of the directory), so a
/// crash leaves either the old file or the new one, never a mix.
enum IndexStorage {
    static func errno(_ what: String, _ path: String) -> VCError {
        VCError(.io, "\(what) \(path): \(String(cString: strerror(Glibc.errno)))")
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Maps the file read-only and hands its bytes to `body`.
    static func withMappedFile<T>(_ path: String, _ body: (UnsafeRawBufferPointer) throws(VCError) -> T) throws(VCError) -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw errno("cannot open", path) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw errno("cannot stat", path) }
        let size = Int(st.st_size)
        if size == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { throw errno("cannot map", path) }
        defer { munmap(map, size) }
        return try body(UnsafeRawBufferPointer(start: map, count: size))
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(VCError) {
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw errno("cannot create", temp) }
        var ok = false
        defer { if !ok { unlink(temp) } }
        let written: Int = bytes.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 { if Glibc.errno == EINTR { continue }; return -1 }
                done += n
            }
            return done
        }
        if written < 0 { let e = errno("cannot write", temp); close(fd); throw e }
        if fsync(fd) != 0 { let e = errno("cannot fsync", temp); close(fd); throw e }
        if close(fd) != 0 { throw errno("cannot close", temp) }
        if rename(temp, path) != 0 { throw errno("cannot rename to", path) }
        ok = true
        var dir = path
        if let slash = dir.lastIndex(of: "/") { dir = String(dir[..<slash]); if dir.isEmpty { dir = "/" } } else { dir = "." }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

extension Retriever {
    /// Opens an index file. `runtime` may carry {"ef_search": n}; other creation options are
    /// read from the file.
    public static func load(path: String, runtime: JSON? = nil) throws(VCError) -> Retriever {
        try IndexStorage.withMappedFile(path) { (bytes) throws(VCError) -> Retriever in
            do throws(VCError) {
                return try IndexFile.decode(bytes, runtime: runtime)
            } catch {
                throw VCError(error.status, "\(path): \(error.message)")
            }
        }
    }

    public func save(path: String) throws(VCError) {
        try IndexStorage.writeAtomically(IndexFile.encode(self), to: path)
    }
}
