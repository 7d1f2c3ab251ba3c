//! The build and target platform (always this host's: builds for other platforms are not
//! supported) and the build arguments every build predefines.

/// The host's CPU architecture in OCI terms.
pub(crate) const ARCH: &str = match std::env::consts::ARCH.as_bytes() {
    b"x86_64" => "amd64",
    b"aarch64" => "arm64",
    b"arm" => "arm",
    b"x86" => "386",
    b"powerpc64" => "ppc64le",
    b"s390x" => "s390x",
    b"riscv64" => "riscv64",
    _ => std::env::consts::ARCH,
};

/// The platform as `os/arch`.
pub fn platform() -> String {
    format!("linux/{ARCH}")
}

/// The platform arguments (`TARGETPLATFORM`, `BUILDARCH`, ...) and their values.
pub(crate) fn platform_args() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for prefix in ["TARGET", "BUILD"] {
        out.push((format!("{prefix}PLATFORM"), platform()));
        out.push((format!("{prefix}OS"), "linux".to_string()));
        out.push((format!("{prefix}ARCH"), ARCH.to_string()));
        out.push((format!("{prefix}VARIANT"), String::new()));
    }
    out
}

/// The proxy arguments a build accepts without an ARG declaring them.
pub(crate) const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];
