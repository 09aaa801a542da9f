//! Generates Rust types from `proto/*.proto`. protoc comes from the vendored
//! crate unless `PROTOC` names another one, so a fresh machine needs no install.
//! With the `json` feature the messages also get `prost::Name` and the
//! descriptor set is kept (`OUT_DIR/openmldb_descriptor.bin`) for the JSON
//! mapping.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "type.proto",
    "common.proto",
    "tablet.proto",
    "name_server.proto",
    "data_sync.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
        unsafe { std::env::set_var("PROTOC", protoc) };
    }
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| proto_dir.join(p)).collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    let json = std::env::var_os("CARGO_FEATURE_JSON").is_some();
    let mut config = prost_build::Config::new();
    if json {
        let out = PathBuf::from(std::env::var("OUT_DIR")?);
        config
            .enable_type_names()
            .file_descriptor_set_path(out.join("openmldb_descriptor.bin"));
    }
    tonic_prost_build::configure()
        .build_server(grpc)
        .build_client(grpc)
        .compile_with_config(config, &files, &[proto_dir])?;
    Ok(())
}
