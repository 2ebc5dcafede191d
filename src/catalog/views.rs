//! Views in the catalog: `CREATE [OR REPLACE] VIEW`, `DROP VIEW`. A view is its definition
//! only (no region); each change is one durable catalog write, like a table's.

use super::{Catalog, Error, Result, ViewInfo};

impl Catalog {
    /// The view named `name`.
    pub fn view(&self, name: &str) -> Option<ViewInfo> {
        self.read().data.views.get(name).cloned()
    }

    /// Every view, sorted by name.
    pub fn views(&self) -> Vec<(String, ViewInfo)> {
        let state = self.read();
        state
            .data
            .views
            .iter()
            .map(|(name, info)| (name.clone(), info.clone()))
            .collect()
    }

    /// Records view `name`; with `replace` an existing view of that name is replaced.
    ///
    /// # Errors
    /// [`Error::TableExists`] if a table has the name (GreptimeDB refuses that even with
    /// `OR REPLACE` or `IF NOT EXISTS`); [`Error::ViewExists`] if a view has it and not
    /// `replace`; a storage error writing the catalog (then nothing changed).
    pub async fn create_view(&self, name: &str, info: ViewInfo, replace: bool) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        let mut data = self.read().data.clone();
        if data.tables.contains_key(name) {
            return Err(Error::TableExists {
                name: name.to_string(),
            });
        }
        if !replace && data.views.contains_key(name) {
            return Err(Error::ViewExists {
                name: name.to_string(),
            });
        }
        data.views.insert(name.to_string(), info);
        self.persist(&data).await?;
        self.write().data = data;
        Ok(())
    }

    /// Removes view `name`.
    ///
    /// # Errors
    /// [`Error::ViewNotFound`]; a storage error writing the catalog (then nothing changed).
    pub async fn drop_view(&self, name: &str) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        let mut data = self.read().data.clone();
        if data.views.remove(name).is_none() {
            return Err(Error::ViewNotFound {
                name: name.to_string(),
            });
        }
        self.persist(&data).await?;
        self.write().data = data;
        Ok(())
    }
}
