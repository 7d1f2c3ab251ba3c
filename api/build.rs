//! Generates the gRPC code of Bosun's APIs from `proto/*.proto`: the node agent's local API,
//! the managers' API, their services API, the dispatcher between nodes and managers, the
//! image blobs nodes hand each other, and service logs.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_build::configure().compile(
        &[
            "proto/agent.proto",
            "proto/images.proto",
            "proto/volumes.proto",
            "proto/networks.proto",
            "proto/changes.proto",
        ],
        &["proto"],
    )?;
    tonic_build::configure().compile(&["proto/manager.proto"], &["proto"])?;
    tonic_build::configure().compile(&["proto/dispatcher.proto"], &["proto"])?;
    tonic_build::configure().compile(&["proto/services.proto"], &["proto"])?;
    tonic_build::configure().compile(&["proto/blobs.proto"], &["proto"])?;
    tonic_build::configure().compile(&["proto/logs.proto"], &["proto"])?;
    Ok(())
}
