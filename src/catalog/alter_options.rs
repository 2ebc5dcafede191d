//! `ALTER TABLE t SET 'k' = 'v'` / `UNSET 'k'` (table options) and `TRUNCATE TABLE t`.
//!
//! Which keys ALTER may change, and how, follows GreptimeDB's `SetRegionOption` /
//! `UnsetRegionOption` (`store-api/src/region_request.rs`) and mito2's
//! `handle_alter_region_options`: `ttl` can be set (any value CREATE accepts) or unset
//! (back to forever); `append_mode` can only go from `false` to `true` (which clears
//! `merge_mode`); `merge_mode` and every other key is refused with GreptimeDB's words,
//! "Invalid set region option request, key: k, value: v" / "Invalid set region option
//! request, key: k".
//!
//! Order (as CREATE/DROP, crate::catalog docs): the catalog with the new options is written
//! durably first, then the open region takes them ([`Region::set_table_options`]); a failed
//! write changes nothing.
//!
//! [`Region::set_table_options`]: crate::engine::region::Region::set_table_options

use crate::catalog::{Catalog, Error, Result, TableInfo, builder};
use crate::engine::options::{APPEND_MODE_KEY, MERGE_MODE_KEY, TTL_KEY};
use crate::sql::OptionChange;

impl Catalog {
    /// Applies `change` to the options of table `name` and returns its new entry.
    ///
    /// # Errors
    /// [`Error::TableNotFound`]; [`Error::InvalidTable`] for a key or value ALTER cannot
    /// set (see the module docs); storage errors writing the catalog (nothing changed).
    pub async fn alter_table_options(
        &self,
        name: &str,
        change: &OptionChange,
    ) -> Result<TableInfo> {
        let _ddl = self.ddl.lock().await;
        let (mut data, region) = {
            let state = self.read();
            let region = state
                .regions
                .get(name)
                .cloned()
                .ok_or_else(|| Error::TableNotFound {
                    name: name.to_string(),
                })?;
            (state.data.clone(), region)
        };
        let info = super::table_info_mut(&mut data, name)?;
        let invalid = |reason: String| Error::InvalidTable {
            name: name.to_string(),
            reason,
        };
        let mut options = info.options.clone();
        match change {
            OptionChange::Set(pairs) => {
                for (key, value) in pairs {
                    let key = key.to_ascii_lowercase();
                    let refused = || {
                        invalid(format!(
                            "Invalid set region option request, key: {key}, value: {value}"
                        ))
                    };
                    match key.as_str() {
                        TTL_KEY => {
                            options.insert(key.clone(), value.clone());
                        }
                        APPEND_MODE_KEY => {
                            let new = match value.to_ascii_lowercase().as_str() {
                                "true" => true,
                                "false" => false,
                                _ => return Err(refused()),
                            };
                            let old = region.table_options().append_mode;
                            if new != old {
                                if !new {
                                    return Err(invalid(
                                        "Only allow changing append_mode from false to true"
                                            .to_string(),
                                    ));
                                }
                                options.remove(MERGE_MODE_KEY);
                            }
                            options.insert(key.clone(), value.clone());
                        }
                        _ => return Err(refused()),
                    }
                }
            }
            OptionChange::Unset(keys) => {
                for key in keys {
                    let key = key.to_ascii_lowercase();
                    if key != TTL_KEY {
                        return Err(invalid(format!(
                            "Invalid set region option request, key: {key}"
                        )));
                    }
                    options.remove(&key);
                }
            }
        }
        // The table comment is the catalog's, not an engine option (see `COMMENT_OPTION`).
        let comment = options.remove(super::COMMENT_OPTION);
        let (table_options, mut stored) = builder::table_options(name, &options)?;
        if let Some(comment) = comment {
            stored.insert(super::COMMENT_OPTION.to_string(), comment);
        }
        info.options = stored;
        let info = info.clone();
        self.persist(&data).await?;
        self.write().data = data;
        region.set_table_options(table_options).await;
        Ok(info)
    }

    /// Removes every row of table `name` durably (`TRUNCATE TABLE`; see
    /// `engine/region/truncate.rs`). The catalog entry is unchanged.
    ///
    /// # Errors
    /// [`Error::TableNotFound`]; engine errors (manifest, WAL).
    pub async fn truncate_table(&self, name: &str) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        let region =
            self.read()
                .regions
                .get(name)
                .cloned()
                .ok_or_else(|| Error::TableNotFound {
                    name: name.to_string(),
                })?;
        region.truncate().await?;
        Ok(())
    }
}
