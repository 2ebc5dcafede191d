//! Schema changes (`ALTER TABLE`): a new [`RegionMetadata`] installed as a manifest `Change`
//! action (mito2's `worker/handle_alter.rs`).
//!
//! Steps, all under the writer lock (no write is assigned a sequence meanwhile):
//! 1. freeze the mutable memtable (waits for in-flight writes) and flush every frozen
//!    memtable, so every row written under the old schema is in an SST and no WAL entry
//!    after the flushed sequence was written under it (mito2 flushes before altering too);
//! 2. under `flush_lock` and `manifest`: append `Change { metadata }` — durable before
//!    anything else changes, and so before the statement is acknowledged;
//! 3. swap in a version with the new metadata and an empty mutable memtable of it.
//!
//! Nothing is rewritten: SSTs keep the schema they were written with in their footer and
//! are read under the new one by column id (`read/compat.rs`); compaction writes the new.
//! A crash before step 2 leaves the old schema (the flush is harmless); after it, the new.

use std::sync::Arc;

use crate::engine::error::{Error, Result};
use crate::engine::manifest::ManifestAction;
use crate::engine::memtable::Memtable;
use crate::engine::metadata::{RegionMetadata, SemanticType};
use crate::engine::region::Region;

impl Region {
    /// Replaces the region's schema with `metadata` (see the module docs). Returns once the
    /// change is durable; later writes must use the new schema.
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`] if `metadata` is invalid or not an evolution of the current
    /// schema the engine can read old files under ([`check_evolution`]); flush, storage or
    /// manifest errors (the schema is then unchanged).
    pub async fn alter(self: &Arc<Self>, metadata: RegionMetadata) -> Result<()> {
        let region = self.clone();
        crate::engine::run_to_completion("alter", async move {
            let mut writer = region.writer.lock().await;
            let current = region.version.current().metadata.clone();
            check_evolution(&current, &metadata)?;
            region.freeze(&mut writer).await?;
            region.flush_immutables().await?;
            let version = region.version.current();
            if !version.immutables.is_empty() || !version.mutable.is_empty() {
                // Only a closing region skips the flush.
                return Err(Error::ShuttingDown("alter"));
            }
            let metadata = Arc::new(metadata);
            {
                let _flush = region.flush_lock.lock().await;
                region
                    .manifest
                    .lock()
                    .await
                    .update(vec![ManifestAction::Change {
                        metadata: (*metadata).clone(),
                    }])
                    .await?;
            }
            let id = writer.next_memtable_id;
            writer.next_memtable_id += 1;
            let mutable = Arc::new(Memtable::new_tracked(
                id,
                metadata.clone(),
                Some(region.options.write_buffer.clone()),
            ));
            region.version.apply(|v| {
                let mut next = v.clone();
                next.metadata = metadata.clone();
                next.mutable = mutable;
                next
            });
            log::info!(
                "region {} altered to schema version {}",
                region.region_id,
                metadata.schema_version
            );
            Ok(())
        })
        .await
    }
}

/// Checks that `new` is a schema the engine can read `old`'s files under: valid, same region,
/// the next schema version, the same time index (id and type), the old tags first in the
/// primary key in their order with unchanged types (new tags only appended, as mito2's
/// `RegionMetadataBuilder::alter`), kept columns in their role, and added columns with ids
/// never used before.
///
/// # Errors
/// [`Error::InvalidMetadata`] naming the broken rule.
pub fn check_evolution(old: &RegionMetadata, new: &RegionMetadata) -> Result<()> {
    new.validate()?;
    let invalid = |reason: String| Error::InvalidMetadata {
        region_id: old.region_id,
        reason,
    };
    if new.region_id != old.region_id {
        return Err(invalid(format!("metadata names region {}", new.region_id)));
    }
    if new.schema_version != old.schema_version + 1 {
        return Err(invalid(format!(
            "schema version {} does not follow {}",
            new.schema_version, old.schema_version
        )));
    }
    let (old_ts, new_ts) = (old.time_index_column(), new.time_index_column());
    if old_ts.column_id != new_ts.column_id || old_ts.data_type != new_ts.data_type {
        return Err(invalid("the time index cannot change".to_string()));
    }
    let old_tags: Vec<_> = old.primary_key.iter().map(|&k| &old.columns[k]).collect();
    let new_tags: Vec<_> = new.primary_key.iter().map(|&k| &new.columns[k]).collect();
    let kept_prefix = old_tags.len() <= new_tags.len()
        && old_tags.iter().zip(&new_tags).all(|(a, b)| {
            a.column_id == b.column_id && a.data_type == b.data_type && a.name == b.name
        });
    if !kept_prefix {
        return Err(invalid(
            "tags can only be added after the existing ones".to_string(),
        ));
    }
    let first_new_id = old.next_column_id();
    for column in &new.columns {
        match old.column_by_id(column.column_id) {
            Some(before) if before.semantic_type != column.semantic_type => {
                return Err(invalid(format!(
                    "column '{}' cannot change from {} to {}",
                    column.name,
                    before.semantic_type.as_str(),
                    column.semantic_type.as_str()
                )));
            }
            Some(_) => {}
            None if column.column_id < first_new_id => {
                return Err(invalid(format!(
                    "column '{}' reuses column id {} (the next free id is {first_new_id})",
                    column.name, column.column_id
                )));
            }
            None if column.semantic_type == SemanticType::Timestamp => {
                return Err(invalid("the time index cannot change".to_string()));
            }
            None => {}
        }
    }
    if new.next_column_id() < first_new_id {
        return Err(invalid("next_column_id went backwards".to_string()));
    }
    Ok(())
}
