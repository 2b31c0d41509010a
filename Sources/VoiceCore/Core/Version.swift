/// The library's version. `abi` changes only when a C signature or a struct layout changes
/// incompatibly; it must equal `VC_ABI_VERSION` in include/voicecore.h.
public enum Version {
    public static let major = 0
    public static let minor = 1
    public static let patch = 0
    public static let abi: Int32 = 3
    public static let string = "\(major).\(minor).\(patch)"
}
