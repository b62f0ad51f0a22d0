//! TensorBoard's hparams: a run's settings as one `session_start_info` summary, so the HParams
//! dashboard tabulates runs by their settings beside their scalars. The message and tag are
//! those of TensorBoard's `hparams` plugin (`plugin_data.proto`, `metadata.py`), built from
//! tensorboard-proto's generated types.

use super::tensorboard::EventFile;
use crate::error::{Error, Result};
use protobuf::Message;
use protobuf::well_known_types::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tensorboard_proto::plugin_hparams::{HParamsPluginData, SessionStartInfo};
use tensorboard_proto::summary::{
    Summary, Summary_Value, SummaryMetadata, SummaryMetadata_PluginData,
};
use tensorboard_proto::tensor::TensorProto;
use tensorboard_proto::types::DataType;

/// The hparams plugin's tag and name; its data version.
pub const SESSION_START_INFO_TAG: &str = "_hparams_/session_start_info";
const PLUGIN_NAME: &str = "hparams";
const PLUGIN_DATA_VERSION: i32 = 0;

/// One setting's value, as the hparams dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl HParam {
    fn to_proto(&self) -> Value {
        let mut value = Value::new();
        match self {
            HParam::Number(x) => value.set_number_value(*x),
            HParam::Text(s) => value.set_string_value(s.clone()),
            HParam::Bool(b) => value.set_bool_value(*b),
        }
        value
    }
}

/// Writes `hparams` as a new event file in `<log_dir>/tensorboard/`, beside the run's scalars
/// (TensorBoard reads a directory's event files as one run). Returns the file's path.
pub fn write_hparams(log_dir: &Path, hparams: &BTreeMap<String, HParam>) -> Result<PathBuf> {
    let mut info = SessionStartInfo::new();
    for (name, value) in hparams {
        info.mut_hparams().insert(name.clone(), value.to_proto());
    }
    info.set_start_time_secs(super::tensorboard::wall_time());
    let mut data = HParamsPluginData::new();
    data.set_version(PLUGIN_DATA_VERSION);
    data.set_session_start_info(info);
    let tb_dir = log_dir.join(super::TENSORBOARD_DIR);
    let content = data
        .write_to_bytes()
        .map_err(|e| Error::model(tb_dir.display().to_string(), format!("hparams: {e}")))?;
    let mut plugin = SummaryMetadata_PluginData::new();
    plugin.set_plugin_name(PLUGIN_NAME.into());
    plugin.set_content(content);
    let mut metadata = SummaryMetadata::new();
    metadata.set_plugin_data(plugin);
    // TensorBoard's own hparams summaries carry an empty float tensor as their payload.
    let mut null = TensorProto::new();
    null.set_dtype(DataType::DT_FLOAT);
    let mut value = Summary_Value::new();
    value.set_tag(SESSION_START_INFO_TAG.into());
    value.set_metadata(metadata);
    value.set_tensor(null);
    let mut summary = Summary::new();
    summary.mut_value().push(value);
    let mut events = EventFile::create(&tb_dir)?;
    events.summary(summary, 0)?;
    events.sync()?;
    Ok(events.path().to_path_buf())
}

/// The hparams of the event file at `path`, read back (for tests and tools).
pub fn read_hparams(path: &Path) -> Result<BTreeMap<String, HParam>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |msg: String| Error::in_file(path, msg);
    for record in super::tensorboard::read_records(path, &bytes)? {
        let event = tensorboard_proto::event::Event::parse_from_bytes(record.data)
            .map_err(|e| bad(format!("record at byte {}: {e}", record.offset)))?;
        for value in event.get_summary().get_value() {
            let plugin = value.get_metadata().get_plugin_data();
            if value.get_tag() != SESSION_START_INFO_TAG || plugin.get_plugin_name() != PLUGIN_NAME
            {
                continue;
            }
            let data = HParamsPluginData::parse_from_bytes(plugin.get_content())
                .map_err(|e| bad(format!("hparams plugin data: {e}")))?;
            let parsed = data
                .get_session_start_info()
                .get_hparams()
                .iter()
                .map(|(name, v)| {
                    let value = if v.has_number_value() {
                        HParam::Number(v.get_number_value())
                    } else if v.has_bool_value() {
                        HParam::Bool(v.get_bool_value())
                    } else {
                        HParam::Text(v.get_string_value().to_string())
                    };
                    (name.clone(), value)
                })
                .collect();
            return Ok(parsed);
        }
    }
    Err(bad(format!("no {SESSION_START_INFO_TAG} summary")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hparams_written_parse_back_and_sit_beside_the_scalars() {
        let dir = std::env::temp_dir().join(format!("quill-hparams-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut log = super::super::RunLog::open(&dir, None).unwrap();
        log.scalars(1, &BTreeMap::from([("reward".to_string(), 0.5)]))
            .unwrap();
        let hparams = BTreeMap::from([
            ("grpo.learning_rate".to_string(), HParam::Number(5e-4)),
            ("policy.preset".to_string(), HParam::Text("nano".into())),
            ("quill.git_dirty".to_string(), HParam::Bool(false)),
        ]);
        let path = write_hparams(&dir, &hparams).unwrap();
        assert_eq!(path.parent().unwrap(), dir.join("tensorboard"));
        assert_eq!(read_hparams(&path).unwrap(), hparams);
        // The scalars' file is untouched and still its own.
        assert_ne!(log.event_file(), path);
        assert!(read_hparams(log.event_file()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
