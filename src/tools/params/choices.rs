//! The parameter types of the tools' shared options that name upstream choices (size, shape,
//! model, formats). The `seedream` client's wire types carry no schema: these describe the
//! argument to a model, read it with the client's own parser, and convert into the wire type.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// `size`: a preset or `WIDTHxHEIGHT`, read by [`seedream::Size`]'s parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeArg(pub seedream::Size);

/// `model`: an alias (`5.0`, `4.5`, `4.0`) or a model id, read by [`seedream::Model::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelArg(pub seedream::Model);

/// `aspect_ratio`: the ratios the Seedream docs publish recommended sizes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum AspectRatioArg {
    #[serde(rename = "1:1")]
    Square,
    #[serde(rename = "4:3")]
    Landscape4x3,
    #[serde(rename = "3:4")]
    Portrait3x4,
    #[serde(rename = "16:9")]
    Wide16x9,
    #[serde(rename = "9:16")]
    Tall9x16,
    #[serde(rename = "3:2")]
    Landscape3x2,
    #[serde(rename = "2:3")]
    Portrait2x3,
    #[serde(rename = "21:9")]
    Ultrawide21x9,
}

/// `response_format`: links or inline base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormatArg {
    Url,
    B64Json,
}

/// `output_format` (honoured by Seedream 5.0 lite only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormatArg {
    Jpeg,
    Png,
}

/// `background`: a transparent PNG (where the model can) or an opaque image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundArg {
    Transparent,
    Opaque,
}

/// `prompt_mode`: the upstream's prompt optimisation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromptModeArg {
    Standard,
    Fast,
}

impl From<BackgroundArg> for seedream::Background {
    fn from(arg: BackgroundArg) -> Self {
        match arg {
            BackgroundArg::Transparent => seedream::Background::Transparent,
            BackgroundArg::Opaque => seedream::Background::Opaque,
        }
    }
}

impl From<PromptModeArg> for seedream::PromptMode {
    fn from(arg: PromptModeArg) -> Self {
        match arg {
            PromptModeArg::Standard => seedream::PromptMode::Standard,
            PromptModeArg::Fast => seedream::PromptMode::Fast,
        }
    }
}

impl<'de> Deserialize<'de> for SizeArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map(SizeArg).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ModelArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        seedream::Model::parse(&raw)
            .map(ModelArg)
            .map_err(serde::de::Error::custom)
    }
}

/// Both free-text choices are plain strings to a model; the server's parser explains a wrong one.
macro_rules! string_schema {
    ($($ty:ty => $name:literal),*) => {$(
        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string" })
            }

            fn inline_schema() -> bool {
                true
            }
        }
    )*};
}

string_schema!(SizeArg => "Size", ModelArg => "Model");

impl From<SizeArg> for seedream::Size {
    fn from(arg: SizeArg) -> Self {
        arg.0
    }
}

impl From<ModelArg> for seedream::Model {
    fn from(arg: ModelArg) -> Self {
        arg.0
    }
}

impl From<AspectRatioArg> for seedream::AspectRatio {
    fn from(arg: AspectRatioArg) -> Self {
        use seedream::AspectRatio as A;
        match arg {
            AspectRatioArg::Square => A::Square,
            AspectRatioArg::Landscape4x3 => A::Landscape4x3,
            AspectRatioArg::Portrait3x4 => A::Portrait3x4,
            AspectRatioArg::Wide16x9 => A::Wide16x9,
            AspectRatioArg::Tall9x16 => A::Tall9x16,
            AspectRatioArg::Landscape3x2 => A::Landscape3x2,
            AspectRatioArg::Portrait2x3 => A::Portrait2x3,
            AspectRatioArg::Ultrawide21x9 => A::Ultrawide21x9,
        }
    }
}

impl From<ResponseFormatArg> for seedream::ResponseFormat {
    fn from(arg: ResponseFormatArg) -> Self {
        match arg {
            ResponseFormatArg::Url => seedream::ResponseFormat::Url,
            ResponseFormatArg::B64Json => seedream::ResponseFormat::B64Json,
        }
    }
}

impl From<OutputFormatArg> for seedream::OutputFormat {
    fn from(arg: OutputFormatArg) -> Self {
        match arg {
            OutputFormatArg::Jpeg => seedream::OutputFormat::Jpeg,
            OutputFormatArg::Png => seedream::OutputFormat::Png,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each argument spelling reaches the wire as the same spelling: the schema's enum and the
    /// client's serialisation cannot drift apart.
    #[test]
    fn every_choice_converts_to_the_wire_value_of_the_same_name() {
        for ratio in ["1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9"] {
            let arg: AspectRatioArg = serde_json::from_value(ratio.into()).unwrap();
            let wire = seedream::AspectRatio::from(arg);
            assert_eq!(serde_json::to_value(wire).unwrap(), ratio);
        }
        for format in ["url", "b64_json"] {
            let arg: ResponseFormatArg = serde_json::from_value(format.into()).unwrap();
            let wire = seedream::ResponseFormat::from(arg);
            assert_eq!(serde_json::to_value(wire).unwrap(), format);
        }
        for background in ["transparent", "opaque"] {
            let arg: BackgroundArg = serde_json::from_value(background.into()).unwrap();
            let wire = seedream::Background::from(arg);
            assert_eq!(serde_json::to_value(wire).unwrap(), background);
        }
        for mode in ["standard", "fast"] {
            let arg: PromptModeArg = serde_json::from_value(mode.into()).unwrap();
            let wire = seedream::PromptMode::from(arg);
            assert_eq!(serde_json::to_value(wire).unwrap(), mode);
        }
        for format in ["jpeg", "png"] {
            let arg: OutputFormatArg = serde_json::from_value(format.into()).unwrap();
            let wire = seedream::OutputFormat::from(arg);
            assert_eq!(serde_json::to_value(wire).unwrap(), format);
        }
    }

    #[test]
    fn sizes_and_models_are_read_by_the_client_s_parsers() {
        let size: SizeArg = serde_json::from_value("2k".into()).unwrap();
        assert_eq!(size.0, seedream::Size::Preset(seedream::Preset::TwoK));
        let model: ModelArg = serde_json::from_value("4.5".into()).unwrap();
        assert_eq!(model.0, seedream::Model::V45);
        let e = serde_json::from_value::<SizeArg>("huge".into()).unwrap_err();
        assert!(e.to_string().contains("WIDTHxHEIGHT"), "{e}");
    }
}
