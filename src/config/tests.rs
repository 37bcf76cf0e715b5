//! Reading flags into a configuration.

use clap::Parser;
use secrecy::ExposeSecret;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn parse(flags: &[&str]) -> Result<Config, ConfigError> {
    let mut argv = vec!["seedream-mcp"];
    argv.extend_from_slice(flags);
    Cli::try_parse_from(argv).unwrap().args.into_config()
}

#[test]
fn defaults_describe_cometapi_without_a_watermark() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.client.base_url, "https://api.cometapi.com/v1");
    assert_eq!(c.defaults.model, Model::Lite50);
    assert!(!c.defaults.watermark);
}

#[test]
fn the_cometapi_key_is_the_fallback_for_the_api_key() {
    let c = parse(&["--cometapi-key", "comet"]).unwrap();
    assert_eq!(c.client.api_key.unwrap().expose_secret(), "comet");
    let c = parse(&["--api-key", "primary", "--cometapi-key", "comet"]).unwrap();
    assert_eq!(c.client.api_key.unwrap().expose_secret(), "primary");
    assert!(
        parse(&["--api-key", "  "])
            .unwrap()
            .client
            .api_key
            .is_none()
    );
}

#[test]
fn bad_settings_name_the_flag_and_the_variable() {
    for (flags, expected) in [
        (vec!["--base-url", "api.cometapi.com"], "SEEDREAM_BASE_URL"),
        (vec!["--output-dir", "images"], "SEEDREAM_OUTPUT_DIR"),
        (vec!["--allowed-dirs", "rel"], "SEEDREAM_ALLOWED_DIRS"),
        (vec!["--confirm-above", "cheap"], "SEEDREAM_CONFIRM_ABOVE"),
        (vec!["--confirm-above=-1"], "or off"),
        (
            vec!["--confirm-above-images", "1.5"],
            "SEEDREAM_CONFIRM_ABOVE_IMAGES",
        ),
    ] {
        let e = parse(&flags).unwrap_err().to_string();
        assert!(e.contains(expected), "{flags:?}: {e}");
    }
}

#[test]
fn values_of_a_fixed_form_are_refused_by_clap_with_the_flag_and_the_fix() {
    for (flags, expected) in [
        (vec!["--size", "huge"], "WIDTHxHEIGHT"),
        (vec!["--response-format", "png"], "b64_json"),
        (vec!["--model", ""], "model must not be empty"),
    ] {
        let mut argv = vec!["seedream-mcp"];
        argv.extend_from_slice(&flags);
        let Err(e) = Cli::try_parse_from(argv) else {
            panic!("{flags:?} accepted");
        };
        let e = e.to_string();
        assert!(
            e.contains(flags[0]) && e.contains(expected),
            "{flags:?}: {e}"
        );
    }
}

#[test]
fn the_response_format_is_read_in_any_case() {
    let c = parse(&["--response-format", "B64_JSON"]).unwrap();
    assert_eq!(c.defaults.response_format, ResponseFormat::B64Json);
}

#[test]
fn the_default_output_folder_is_absolute_and_allowed() {
    let c = parse(&[]).unwrap();
    assert!(c.delivery.output_dir.is_absolute());
    assert!(c.delivery.output_dir.ends_with("seedream-mcp"));
    assert!(c.delivery.allowed_dirs.contains(&c.delivery.output_dir));
    let c = parse(&["--allowed-dirs", "/srv/a:/srv/b"]).unwrap();
    assert_eq!(
        c.delivery.allowed_dirs,
        [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
    );
}

#[test]
fn the_inert_configuration_saves_nothing_and_reads_no_folder() {
    let c = Config::inert().unwrap();
    assert!(!c.delivery.save);
    assert!(c.delivery.allowed_dirs.is_empty());
    assert!(c.client.api_key.is_none());
}

#[test]
fn the_key_never_shows_in_debug_output() {
    let c = parse(&["--api-key", "sk-very-secret"]).unwrap();
    assert!(!format!("{c:?}").contains("sk-very-secret"));
}

#[test]
fn the_store_is_a_file_redis_or_memory_and_only_the_binary_defaults_to_a_file() {
    assert_eq!(parse(&[]).unwrap().jobs.store, None);
    assert_eq!(parse(&["--store", "memory"]).unwrap().jobs.store, None);
    let c = parse(&["--store", "/tmp/x/jobs.redb", "--store-max-mb", "3"]).unwrap();
    assert_eq!(
        c.jobs.store,
        Some(StoreAt::File(std::path::PathBuf::from("/tmp/x/jobs.redb")))
    );
    assert_eq!(c.jobs.store_max_bytes, 3 << 20);
    let c = parse(&["--store", "redis://:hunter2@127.0.0.1:6390/2"]).unwrap();
    assert!(matches!(c.jobs.store, Some(StoreAt::Redis(_))));
    let shown = format!("{:?}", c.jobs);
    assert!(
        !shown.contains("hunter2"),
        "the password never prints: {shown}"
    );
    for bad in ["rediss://h:1", "mongodb://h", "redis://[::1"] {
        let err = parse(&["--store", bad]).unwrap_err();
        assert!(err.to_string().contains("SEEDREAM_STORE"), "{err}");
    }

    let mut args = Cli::try_parse_from(["seedream-mcp"]).unwrap().args;
    args.use_default_store();
    if let Some(store) = args.store {
        assert!(store.ends_with("jobs.redb"), "{store}");
    }
    let mut args = Cli::try_parse_from(["seedream-mcp", "--store", "memory"])
        .unwrap()
        .args;
    args.use_default_store();
    assert_eq!(args.store.as_deref(), Some("memory"));
}
