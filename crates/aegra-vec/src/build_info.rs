//! What was built, for `/info` and for bug reports.

/// The crate version, which tracks the Python package version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `debug` or `release`, so a slow benchmark can be traced to an unoptimized build.
pub const PROFILE: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

/// The SIMD instruction sets the compiler may use everywhere in this build (its baseline), on
/// x86_64 and aarch64. Wider kernels (AVX2) are chosen at run time: see [`simd_in_use`].
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

/// The SIMD instruction sets the vector kernels run with on this CPU: the wide kernel picked at
/// run time (AVX2 when the CPU has it), else the build's baseline (SSE2 on x86_64, NEON on
/// aarch64), which the portable kernels are auto-vectorized for.
pub fn simd_in_use() -> Vec<&'static str> {
    match crate::kernels::active_simd() {
        "portable" => target_features(),
        wide => vec![wide],
    }
}

/// A one-line human description, e.g. `aegra-vec 0.12.0 (release, x86_64, avx2)`.
pub fn describe() -> String {
    let features = simd_in_use();
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

    #[test]
    fn simd_in_use_is_the_kernel_chosen_at_run_time() {
        let in_use = simd_in_use();
        match crate::kernels::active_simd() {
            "portable" => assert_eq!(in_use, target_features()),
            wide => assert_eq!(in_use, vec![wide]),
        }
        assert!(describe().contains(&in_use.join("+")));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            assert_eq!(in_use, vec!["avx2"]);
        }
    }
}
