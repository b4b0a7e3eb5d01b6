//! Reads the `[package.metadata.wdk]` configuration, finds the WDK and emits
//! the KMDF linker arguments (/DRIVER, /ENTRY:FxDriverEntry, ...). Fails with
//! `StaticCrtNotEnabled` unless `.cargo/config.toml`'s +crt-static is in
//! effect, i.e. unless cargo runs from this directory.

fn main() -> Result<(), wdk_build::ConfigError> {
    wdk_build::configure_wdk_binary_build()
}
