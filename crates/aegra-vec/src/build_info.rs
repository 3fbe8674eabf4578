//! What was built, for `/info` and for bug reports.

/// The crate version, which tracks the Python package version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `debug` or `release`, so a slow benchmark can be traced to an unoptimized build.
pub const PROFILE: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

/// The SIMD instruction sets this build may use on x86_64 and aarch64.
pub fn target_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(target_feature = "sse2") {
        features.push("sse2");
    }
    if cfg!(target_feature = "avx2") {
        features.push("avx2");
    }
    if cfg!(target_feature = "fma") {
        features.push("fma");
    }
    if cfg!(target_feature = "neon") {
        features.push("neon");
    }
    features
}

/// A one-line human description, e.g. `aegra-vec 0.12.0 (release, x86_64, sse2)`.
pub fn describe() -> String {
    let features = target_features();
    let simd = if features.is_empty() {
        "no simd".to_string()
    } else {
        features.join("+")
    };
    format!(
        "aegra-vec {VERSION} ({PROFILE}, {}, {simd})",
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(VERSION, env!("CARGO_PKG_VERSION"));
        assert!(VERSION.split('.').count() >= 3);
    }

    #[test]
    fn describe_names_version_profile_and_arch() {
        let text = describe();
        assert!(text.starts_with(&format!("aegra-vec {VERSION} (")));
        assert!(text.contains(PROFILE));
        assert!(text.contains(std::env::consts::ARCH));
    }
}
