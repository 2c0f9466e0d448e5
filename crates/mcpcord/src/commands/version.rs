//! `mcpcord version`.

use super::Failure;

/// The git revision the binary was built from (set by build.rs), or "unknown".
pub const GIT_REVISION: &str = env!("MCPCORD_GIT_REVISION");

/// Optional parts compiled in.
pub const FEATURES: &[&str] = &[];

/// Prints version, revision and features.
pub fn run() -> Result<(), Failure> {
    println!("mcpcord {}", env!("CARGO_PKG_VERSION"));
    println!("revision: {GIT_REVISION}");
    println!(
        "features: {}",
        if FEATURES.is_empty() {
            "(none)".to_string()
        } else {
            FEATURES.join(", ")
        }
    );
    Ok(())
}
