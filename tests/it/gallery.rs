//! The MCP Apps face (issue 14): a client that renders apps sees the image tools linked to the
//! gallery page and the page's own `get_image`; one that does not sees exactly the old list.
//! `get_image` hands over an image's pixels from a saved file, a kept image or a URL.

use rmcp::model::{ClientCapabilities, ClientConfig, ReadResourceRequestParams, ResourceContents};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use seedream_mcp::config::Config;
use seedream_mcp::tools::ImageServer;
use serde_json::{Value, json};

use crate::support::{KEY, call, client_for, config, fake, is_error, scratch_dir, text};

type AppClient = RunningService<RoleClient, ClientConfig>;

/// A host that renders MCP Apps (it declares `io.modelcontextprotocol/ui` with the HTML profile).
async fn connect_host(config: Config) -> AppClient {
    let server = ImageServer::new(config).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let mut info = ClientConfig::default();
    info.capabilities = serde_json::from_value::<ClientCapabilities>(json!({
        "extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}
    }))
    .unwrap();
    info.serve(client_io).await.unwrap()
}

async fn tools_of(client: &rmcp::Peer<RoleClient>) -> Vec<Value> {
    let tools = client.list_all_tools().await.unwrap();
    tools
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect()
}

/// The pixels `get_image` returned: the image block's media type and decoded bytes.
fn image_of(result: &rmcp::model::CallToolResult) -> (String, Vec<u8>) {
    use base64::Engine;
    assert!(!is_error(result), "{}", text(result));
    let image = result
        .content
        .iter()
        .find_map(|c| c.as_image())
        .expect("an image block");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&image.data)
        .unwrap();
    (image.mime_type.clone(), bytes)
}

#[tokio::test]
async fn a_host_that_renders_apps_sees_the_gallery_links_and_the_app_only_tool() {
    let fake = fake().await;
    let host = connect_host(config(&fake.base_url(), KEY, &[])).await;
    let tools = tools_of(&host).await;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        if name == "get_image" {
            assert_eq!(tool["_meta"]["ui"]["visibility"], json!(["app"]));
        } else {
            assert_eq!(
                tool["_meta"]["ui"]["resourceUri"], "ui://seedream/gallery",
                "{name}"
            );
        }
    }
    assert_eq!(tools.len(), 5);
    let page = host
        .read_resource(ReadResourceRequestParams::new("ui://seedream/gallery"))
        .await
        .unwrap();
    let [
        ResourceContents::TextResourceContents {
            mime_type,
            text,
            meta,
            ..
        },
    ] = page.contents.as_slice()
    else {
        panic!("{page:?}");
    };
    assert_eq!(mime_type.as_deref(), Some("text/html;profile=mcp-app"));
    assert!(
        text.contains("<html") || text.starts_with("<!doctype"),
        "{text}"
    );
    let meta = serde_json::to_value(meta).unwrap();
    assert_eq!(meta["ui"]["csp"]["resourceDomains"], json!([]));
}

#[tokio::test]
async fn a_client_without_apps_sees_the_same_four_tools_without_ui_links() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let tools = tools_of(&client).await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "edit_image",
            "generate_image",
            "generate_sequence",
            "get_job"
        ]
    );
    assert!(tools.iter().all(|t| t.get("_meta").is_none()));
}

#[tokio::test]
async fn get_image_scales_a_saved_image_and_fetches_a_url_image_at_full_size() {
    let fake = fake().await;
    let dir = scratch_dir("gallery-get-image");
    let host = connect_host(config(
        &fake.base_url(),
        KEY,
        &["--output-dir", dir.to_str().unwrap()],
    ))
    .await;
    let made = call(&host, "generate_image", json!({"prompt": "a fox"})).await;
    let image = &made.structured_content.clone().unwrap()["images"][0];
    let resource = image["resource"].as_str().unwrap();
    assert!(resource.starts_with("file://"), "{image}");

    let scaled = call(
        &host,
        "get_image",
        json!({"uri": resource, "max_edge": 256}),
    )
    .await;
    let (mime, bytes) = image_of(&scaled);
    assert_eq!(mime, "image/jpeg");
    assert!(bytes.len() < image["bytes"].as_u64().unwrap() as usize);

    let full = call(&host, "get_image", json!({"uri": image["url"]})).await;
    let (_, bytes) = image_of(&full);
    assert_eq!(bytes.len() as u64, image["bytes"].as_u64().unwrap());
    assert!(
        made.content.len() > 1,
        "the model-visible result is unchanged"
    );
}

#[tokio::test]
async fn get_image_refuses_files_and_urls_the_caller_was_not_given_and_unknown_schemes() {
    let fake = fake().await;
    let host = connect_host(config(&fake.base_url(), KEY, &[])).await;
    for uri in [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "seedream://jobs/nope/images/1",
        // Not a URL this server handed out: it fetches no arbitrary URLs.
        "https://example.com/a.png",
    ] {
        let r = call(&host, "get_image", json!({"uri": uri})).await;
        assert!(is_error(&r), "{uri}: {}", text(&r));
        assert!(text(&r).contains("`uri`"), "{}", text(&r));
    }
}
