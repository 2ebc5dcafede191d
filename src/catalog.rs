//! The catalog: which tables exist, their ids, regions and options.
//!
//! Persisted as one object, `catalog/CATALOG` (see [`persist`] and `docs/FORMAT.md`),
//! replaced atomically and durably on every DDL. Invariants and crash safety:
//! - CREATE: the region is created first, then the catalog naming it is written.
//! - DROP: the catalog without the table is written first, then the region is dropped.
//! - So a crash between the steps leaves at most a region no table names; [`Catalog::open`]
//!   drops such leftovers. A catalog never names a region that was not created.
//! - A missing catalog file means a new database, unless a region on storage holds rows
//!   ([`Error::MissingCatalog`]: the catalog was lost, and dropping the regions as leftovers
//!   would lose data); a damaged one is a hard error ([`Error::Corruption`]). Neither changes
//!   anything on disk.
//!
//! DDL is serialised by an internal async mutex; lookups take a short read lock.

pub mod alter;
mod alter_options;
pub mod builder;
pub mod error;
pub mod persist;
mod views;

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use object_store::path::Path;

pub use error::{Error, Result};
pub use persist::{CatalogData, TableInfo, ViewInfo};

use crate::engine::Engine;
use crate::engine::io::ObjectStorage;
use crate::engine::metadata::RegionId;
use crate::engine::region::RegionRef;
use crate::sql::CreateTable;

/// The `comment` table option (`WITH (comment = '...')`, GreptimeDB's table description): kept
/// in [`TableInfo::options`] and shown by `SHOW CREATE TABLE`, never passed to the engine.
pub const COMMENT_OPTION: &str = "comment";

/// `create` without the [`COMMENT_OPTION`], which is the catalog's and not an engine option
/// (what [`builder::region_metadata`] checks).
pub fn without_comment(create: &CreateTable) -> std::borrow::Cow<'_, CreateTable> {
    if create.options.contains_key(COMMENT_OPTION) {
        let mut engine_create = create.clone();
        engine_create.options.remove(COMMENT_OPTION);
        std::borrow::Cow::Owned(engine_create)
    } else {
        std::borrow::Cow::Borrowed(create)
    }
}

/// A table: its catalog entry and its open region.
#[derive(Debug, Clone)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// The persisted entry.
    pub info: TableInfo,
    /// The table's (single) region.
    pub region: RegionRef,
}

#[derive(Debug, Default)]
struct State {
    data: CatalogData,
    regions: HashMap<String, RegionRef>,
}

/// The live catalog of an open database.
#[derive(Debug)]
pub struct Catalog {
    engine: Arc<Engine>,
    storage: ObjectStorage,
    state: RwLock<State>,
    ddl: tokio::sync::Mutex<()>,
}

impl Catalog {
    /// Loads the catalog from `storage`, opens every table's region and drops regions no
    /// table names (leftovers of a crash in the middle of CREATE or DROP).
    ///
    /// # Errors
    /// [`Error::Corruption`] for a damaged catalog file, [`Error::MissingCatalog`] if there
    /// is none but a region holds rows, [`Error::Storage`] if it cannot be read, [`Error::Engine`] if a region cannot be opened or a leftover dropped.
    pub async fn open(engine: Arc<Engine>, storage: ObjectStorage) -> Result<Catalog> {
        // The catalog's entry may have been left unsynced by a failed fsync of an earlier
        // process (see `ObjectStorage::sync_dirs`).
        storage
            .sync_dirs(&[Path::from(persist::CATALOG_DIR)])
            .await?;
        let data = match storage.get(&Path::from(persist::CATALOG_PATH)).await {
            Ok(bytes) => persist::decode(&bytes)?,
            Err(crate::engine::io::Error::NotFound { .. }) => {
                // No catalog: a new database, or one whose first CREATE TABLE stopped before
                // its catalog write (an empty region, dropped below). Regions with rows mean
                // the catalog was lost: refuse, rather than drop them as leftovers.
                let mut holding = Vec::new();
                for region_id in engine.list_regions().await? {
                    if engine.region_holds_data(region_id).await? {
                        holding.push(region_id);
                    }
                }
                if !holding.is_empty() {
                    return Err(Error::MissingCatalog {
                        path: persist::CATALOG_PATH.to_string(),
                        regions: holding,
                    });
                }
                CatalogData::default()
            }
            Err(e) => return Err(e.into()),
        };
        // Only now that the catalog was read: temp files of an interrupted install.
        storage
            .sweep_temp_files(&Path::from(persist::CATALOG_DIR))
            .await?;
        let named: HashMap<RegionId, &str> = data
            .tables
            .iter()
            .flat_map(|(name, info)| info.region_ids.iter().map(move |r| (*r, name.as_str())))
            .collect();
        for region_id in engine.list_regions().await? {
            if !named.contains_key(&region_id) {
                log::warn!(
                    "dropping region {region_id}: no table in the catalog names it \
                     (left by an interrupted CREATE or DROP TABLE)"
                );
                engine.drop_region(region_id).await?;
            }
        }
        let mut regions = HashMap::new();
        for (name, info) in &data.tables {
            // One region per table for now; further ids are opened too so none is orphaned.
            let mut first = None;
            let table_options = crate::engine::options::TableOptions::from_map(&info.options)
                .map_err(|reason| Error::Corruption {
                    path: persist::CATALOG_PATH.to_string(),
                    kind: error::CorruptionKind::Invalid(format!(
                        "table '{name}' has invalid options: {reason}"
                    )),
                })?;
            for region_id in &info.region_ids {
                let region = engine
                    .open_region_with(*region_id, table_options.clone())
                    .await?;
                first.get_or_insert(region);
            }
            if let Some(region) = first {
                regions.insert(name.clone(), region);
            }
        }
        Ok(Catalog {
            engine,
            storage,
            state: RwLock::new(State { data, regions }),
            ddl: tokio::sync::Mutex::new(()),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<Table> {
        let state = self.read();
        let info = state.data.tables.get(name)?;
        let region = state.regions.get(name)?;
        Some(Table {
            name: name.to_string(),
            info: info.clone(),
            region: region.clone(),
        })
    }

    /// Every table, sorted by name.
    pub fn tables(&self) -> Vec<Table> {
        let state = self.read();
        state
            .data
            .tables
            .iter()
            .filter_map(|(name, info)| {
                Some(Table {
                    name: name.clone(),
                    info: info.clone(),
                    region: state.regions.get(name)?.clone(),
                })
            })
            .collect()
    }

    /// Table names, sorted.
    pub fn table_names(&self) -> Vec<String> {
        self.read().data.tables.keys().cloned().collect()
    }

    /// Creates the table's region, then records the table in the catalog.
    ///
    /// # Errors
    /// [`Error::TableExists`], [`Error::InvalidTable`], [`Error::TableIdsExhausted`], or a
    /// storage/engine error (after which the table does not exist).
    pub async fn create_table(&self, create: &CreateTable) -> Result<Table> {
        let _ddl = self.ddl.lock().await;
        let (mut data, table_id) = {
            let state = self.read();
            if state.data.tables.contains_key(&create.name)
                || state.data.views.contains_key(&create.name)
            {
                return Err(Error::TableExists {
                    name: create.name.clone(),
                });
            }
            (state.data.clone(), state.data.next_table_id)
        };
        let next = table_id
            .checked_add(1)
            .ok_or(Error::TableIdsExhausted { next: table_id })?;
        let region_id = RegionId::new(table_id, 0);
        let engine_create = without_comment(create);
        let metadata = builder::region_metadata(&engine_create, region_id)?;
        let column_comments = create
            .columns
            .iter()
            .zip(&metadata.columns)
            .filter_map(|(def, column)| Some((column.column_id, def.comment.clone()?)))
            .collect();
        let (table_options, mut stored_options) =
            builder::table_options(&create.name, &engine_create.options)?;
        if let Some(comment) = create.options.get(COMMENT_OPTION) {
            stored_options.insert(COMMENT_OPTION.to_string(), comment.clone());
        }
        let region = self
            .engine
            .create_region_with(metadata, table_options)
            .await?;
        // The id is spent even if the catalog write fails below.
        self.write().data.next_table_id = next;

        let info = TableInfo {
            table_id,
            region_ids: vec![region_id],
            options: stored_options,
            // The engine's clock (the wall clock unless a test or `.clock` moved it).
            created_at_ms: self.engine.clock().now_ms(),
            column_comments,
        };
        data.next_table_id = next;
        data.tables.insert(create.name.clone(), info.clone());
        if let Err(e) = self.persist(&data).await {
            if let Err(drop_err) = self.engine.drop_region(region_id).await {
                log::warn!(
                    "could not drop region {region_id} after a failed catalog write \
                     ({drop_err}); it will be dropped at the next open"
                );
            }
            return Err(e);
        }
        let mut state = self.write();
        state.data = data;
        state.regions.insert(create.name.clone(), region.clone());
        Ok(Table {
            name: create.name.clone(),
            info,
            region,
        })
    }

    /// Removes the table from the catalog, then drops its regions.
    ///
    /// # Errors
    /// [`Error::TableNotFound`], or a storage error writing the catalog (after which the table
    /// still exists). A failure to drop the region afterwards is only logged: the region is a
    /// leftover the next open drops.
    pub async fn drop_table(&self, name: &str) -> Result<TableInfo> {
        let _ddl = self.ddl.lock().await;
        let mut data = self.read().data.clone();
        let info = data
            .tables
            .remove(name)
            .ok_or_else(|| Error::TableNotFound {
                name: name.to_string(),
            })?;
        self.persist(&data).await?;
        {
            let mut state = self.write();
            state.data = data;
            state.regions.remove(name);
        }
        for region_id in &info.region_ids {
            if let Err(e) = self.engine.drop_region(*region_id).await {
                log::warn!(
                    "table '{name}' dropped but its region {region_id} could not be removed \
                     ({e}); it will be dropped at the next open"
                );
            }
        }
        Ok(info)
    }

    /// Renames table `from` to `to` (`ALTER TABLE from RENAME to`): one durable catalog
    /// write; the region and its id stay.
    ///
    /// # Errors
    /// [`Error::TableNotFound`], [`Error::TableExists`], or a storage error writing the
    /// catalog (after which the table keeps its old name).
    pub async fn rename_table(&self, from: &str, to: &str) -> Result<Table> {
        let _ddl = self.ddl.lock().await;
        let mut data = self.read().data.clone();
        if data.tables.contains_key(to) || data.views.contains_key(to) {
            return Err(Error::TableExists {
                name: to.to_string(),
            });
        }
        let info = data
            .tables
            .remove(from)
            .ok_or_else(|| Error::TableNotFound {
                name: from.to_string(),
            })?;
        data.tables.insert(to.to_string(), info.clone());
        self.persist(&data).await?;
        let mut state = self.write();
        state.data = data;
        let region = state
            .regions
            .remove(from)
            .ok_or_else(|| Error::TableNotFound {
                name: from.to_string(),
            })?;
        state.regions.insert(to.to_string(), region.clone());
        Ok(Table {
            name: to.to_string(),
            info,
            region,
        })
    }

    /// Sets (`Some`) or removes (`None`) comments of table `name`'s columns, by column id,
    /// durably (`ALTER TABLE ... ADD COLUMN c T COMMENT '...'`, `DROP COLUMN`).
    ///
    /// # Errors
    /// [`Error::TableNotFound`]; a storage error (the comments are then unchanged).
    pub async fn set_column_comments(
        &self,
        name: &str,
        changes: &[(u32, Option<String>)],
    ) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        let mut data = self.read().data.clone();
        let info = table_info_mut(&mut data, name)?;
        let mut changed = false;
        for (column_id, comment) in changes {
            changed |= match comment {
                Some(comment) if info.column_comments.get(column_id) == Some(comment) => false,
                Some(comment) => {
                    info.column_comments.insert(*column_id, comment.clone());
                    true
                }
                None => info.column_comments.remove(column_id).is_some(),
            };
        }
        if changed {
            self.persist(&data).await?;
            self.write().data = data;
        }
        Ok(())
    }

    async fn persist(&self, data: &CatalogData) -> Result<()> {
        let bytes = persist::encode(data)?;
        self.storage
            .put_durable(&Path::from(persist::CATALOG_PATH), Bytes::from(bytes))
            .await?;
        Ok(())
    }
}

/// The entry of table `name` in `data`, to change it.
///
/// # Errors
/// [`Error::TableNotFound`].
fn table_info_mut<'a>(data: &'a mut CatalogData, name: &str) -> Result<&'a mut TableInfo> {
    data.tables
        .get_mut(name)
        .ok_or_else(|| Error::TableNotFound {
            name: name.to_string(),
        })
}
