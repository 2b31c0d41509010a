#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Library-wide entry points: version, error strings, buffer release.

nonisolated(unsafe) private let versionCString: UnsafePointer<CChar> = {
    let s = strdup(Version.string)!
    return UnsafePointer(s)
}()

nonisolated(unsafe) private let statusCStrings: [Int32: UnsafePointer<CChar>] = {
    var table: [Int32: UnsafePointer<CChar>] = [:]
    for raw in Int32(-11)...0 {
        if let status = Status(rawValue: raw) { table[raw] = UnsafePointer(strdup(status.description)!) }
    }
    return table
}()

nonisolated(unsafe) private let unknownStatusCString: UnsafePointer<CChar> = UnsafePointer(strdup("unknown status code")!)

@_cdecl("vc_version")
public func vc_version() -> UnsafePointer<CChar> { versionCString }

@_cdecl("vc_abi_version")
public func vc_abi_version() -> Int32 { Version.abi }

@_cdecl("vc_strerror")
public func vc_strerror(_ code: Int32) -> UnsafePointer<CChar> {
    statusCStrings[code] ?? unknownStatusCString
}

@_cdecl("vc_free")
public func vc_free(_ buffer: UnsafeMutableRawPointer?) {
    free(buffer)
}
