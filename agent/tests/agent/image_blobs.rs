//! An image handed from one agent to another blob by blob over the API (as a cluster node
//! fetching an image no registry holds does): only the blobs of stored images are served,
//! a blob with the wrong content is refused, and the image runs under its pinned reference.

use agent::images_client::images;
use agent::proto::{
    AddManifestRequest, BlobChunk, BlobRef, ContainerConfig, CreateRequest, ImageRef,
};
use engine::image::{Digest, ImportOptions, ImportSource};
use tonic::Code;

use super::support::{self, Env};
use super::{Case, ROOT_ONLY, TestResult};

/// The tests of this module.
pub fn cases() -> Vec<Case> {
    vec![(
        "an_image_moves_between_agents_blob_by_blob",
        an_image_moves_between_agents_blob_by_blob,
    )]
}

fn chunks(digest: &str, data: Vec<u8>) -> impl tokio_stream::Stream<Item = BlobChunk> + use<> {
    let pieces: Vec<BlobChunk> = data
        .chunks(1000)
        .enumerate()
        .map(|(i, piece)| BlobChunk {
            digest: if i == 0 {
                digest.to_owned()
            } else {
                String::new()
            },
            data: piece.to_vec(),
        })
        .collect();
    tokio_stream::iter(pieces)
}

fn an_image_moves_between_agents_blob_by_blob() -> TestResult {
    let (from, to) = (Env::new(), Env::new());
    let image = from
        .runtime()
        .images()
        .import(
            ImportSource::Dir(std::path::Path::new(&from.rootfs())),
            &ImportOptions {
                reference: Some("moved:1".into()),
                ..ImportOptions::default()
            },
        )
        .unwrap();
    let pinned = format!("moved:1@{}", image.manifest);
    support::runtime().block_on(async {
        let (_a, server_a) = from.serve(ROOT_ONLY).await;
        let (mut b_client, server_b) = to.serve(ROOT_ONLY).await;
        let mut a = images(&from.socket()).await.unwrap();
        let mut b = images(&to.socket()).await.unwrap();

        let manifest = a
            .manifest(BlobRef {
                digest: image.manifest.to_string(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(Digest::of(&manifest.data), image.manifest);
        let unknown = Digest::of(b"no such blob").to_string();
        let refused = a
            .read_blob(BlobRef {
                digest: unknown.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{refused}");

        let missing = b
            .missing_blobs(manifest.clone())
            .await
            .unwrap()
            .into_inner()
            .digests;
        assert_eq!(missing.len(), 2, "config and layer: {missing:?}");
        // A blob whose content does not match its digest is not stored.
        let wrong = b
            .put_blob(chunks(&missing[0], b"tampered".to_vec()))
            .await
            .unwrap_err();
        assert!(wrong.message().contains("digest"), "{wrong}");
        for digest in &missing {
            let mut stream = a
                .read_blob(BlobRef {
                    digest: digest.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            let mut data = Vec::new();
            while let Some(chunk) = stream.message().await.unwrap() {
                data.extend(chunk.data);
            }
            b.put_blob(chunks(digest, data)).await.unwrap();
        }
        assert!(
            b.missing_blobs(manifest.clone())
                .await
                .unwrap()
                .into_inner()
                .digests
                .is_empty()
        );
        let misnamed = b
            .add_manifest(AddManifestRequest {
                reference: format!("moved:1@{unknown}"),
                manifest: Some(manifest.clone()),
            })
            .await
            .unwrap_err();
        assert!(misnamed.message().contains("digest"), "{misnamed}");
        let added = b
            .add_manifest(AddManifestRequest {
                reference: pinned.clone(),
                manifest: Some(manifest),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(added.image, image.id.to_string());
        b.inspect(ImageRef {
            image: pinned.clone(),
        })
        .await
        .unwrap();

        let created = b_client
            .create(CreateRequest {
                name: "moved".into(),
                config: Some(ContainerConfig {
                    image: pinned,
                    cmd: vec!["true".into()],
                    has_cmd: true,
                    network_mode: "none".into(),
                    ..Default::default()
                }),
                auto_remove: false,
            })
            .await
            .unwrap();
        b_client.start(&created.id).await.unwrap();
        assert_eq!(b_client.wait(&created.id).await.unwrap().exit_code, 0);
        server_a.shutdown().await.unwrap();
        server_b.shutdown().await.unwrap();
    });
    Ok(())
}
