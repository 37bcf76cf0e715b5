//! Reference images and output folders under hostile conditions: calls refused for cheap
//! reasons decode nothing.

use serde_json::json;

use crate::support::{call, client_for, fake, is_error, scratch_dir, text};

#[tokio::test]
async fn a_call_with_an_empty_prompt_is_refused_before_its_references_are_read() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    // Were the reference read first, the refusal would be about it (it does not exist).
    let missing = scratch_dir("refs").join("missing.png");
    let result = call(
        &client,
        "edit_image",
        json!({"prompt": "  ", "images": [missing.display().to_string()]}),
    )
    .await;
    assert!(is_error(&result));
    let message = text(&result);
    assert!(message.contains("`prompt`"), "{message}");
    assert!(!message.contains("images[0]"), "{message}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_refused_call_creates_no_output_folder() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let folder = scratch_dir("refused").join("new/deeper");
    let result = call(
        &client,
        "generate_image",
        json!({"prompt": "", "output_dir": folder.display().to_string()}),
    )
    .await;
    assert!(is_error(&result), "{}", text(&result));
    assert!(
        !folder.parent().unwrap().exists(),
        "created {}",
        folder.display()
    );
}

#[tokio::test]
async fn a_symlink_swapped_into_the_output_folder_during_a_generation_writes_nothing_outside() {
    let fake = fake().await;
    // Downloads stall long enough to swap the folder after the call was accepted.
    fake.update_config(|c| c.download_delay_ms = Some(1500));
    let client = client_for(&fake).await;
    let folder = scratch_dir("race").join("pics");
    std::fs::create_dir_all(&folder).unwrap();
    let outside = tempfile::tempdir().unwrap();

    let arguments = json!({"prompt": "a fox", "output_dir": folder.display().to_string()});
    let swap = async {
        // The call has passed its checks once the fake API has its request.
        for _ in 0..500 {
            if !fake.requests().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!fake.requests().is_empty(), "the generation never started");
        std::fs::rename(&folder, folder.with_file_name("pics-moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), &folder).unwrap();
    };
    let (result, ()) = tokio::join!(call(&client, "generate_image", arguments), swap);

    let escaped: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(escaped.is_empty(), "written outside: {escaped:?}");
    assert!(!is_error(&result), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap_or_default();
    let problem = structured["images"][0]["problem"]
        .as_str()
        .unwrap_or_default();
    assert!(problem.contains("could not save"), "{structured}");
    assert!(problem.contains("no longer a plain folder"), "{structured}");
}
