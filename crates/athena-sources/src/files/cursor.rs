//! The cursor of the `files` source: whether the first full scan has been stored. The per-file
//! state is not in the cursor but in the store's per-item state, changed with the events.

use athena_core::{Cursor, SourceError};
use serde::{Deserialize, Serialize};

/// The only version written so far.
const VERSION: u32 = 1;

/// ```json
/// {"version":1,"complete":true}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FilesCursor {
    version: u32,
    /// False until the first sync has stored every file; until then, files not yet stored are
    /// "existing" files (`emit_existing`), not new ones.
    pub complete: bool,
}

impl FilesCursor {
    pub fn new(complete: bool) -> Self {
        FilesCursor {
            version: VERSION,
            complete,
        }
    }

    /// The saved cursor (`None`: no sync stored yet, the first scan is not complete).
    pub fn saved(cursor: Option<Cursor>, source_id: &str) -> Result<Self, SourceError> {
        Ok(Cursor::decode_saved(cursor, source_id, u64::from(VERSION))?
            .unwrap_or(FilesCursor::new(false)))
    }

    pub fn encode(self) -> Cursor {
        Cursor::encode(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_decodes_from_its_fixed_text_and_encodes_back_to_it() {
        for complete in [true, false] {
            let text = format!(r#"{{"version":1,"complete":{complete}}}"#);
            let saved = Cursor::from_json(serde_json::from_str(&text).unwrap());
            let c = FilesCursor::saved(Some(saved.clone()), "f").unwrap();
            assert_eq!(c, FilesCursor::new(complete));
            assert_eq!(c.encode(), saved);
        }
        assert_eq!(
            FilesCursor::saved(None, "f").unwrap(),
            FilesCursor::new(false)
        );
        let v2 = Cursor::from_json(serde_json::json!({"version": 2, "complete": true}));
        assert!(FilesCursor::saved(Some(v2), "f").is_err());
    }
}
