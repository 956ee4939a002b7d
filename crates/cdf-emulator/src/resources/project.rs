//! What one project holds: the JSON-object resources (`MetaStore`, one `Collection` per
//! `Kind`, under one mutex) next to the stores the resource modules own for their hot paths
//! (datapoints, RAW, sequence rows, data modeling), and the project's id generator.

use parking_lot::Mutex;

use super::datapoints::DatapointStore;
use super::models::ModelStore;
use super::raw::RawStore;
use super::sequences::RowStore;
use crate::store::{Collection, IdGen};

pub struct Project {
    pub meta: Mutex<MetaStore>,
    pub datapoints: Mutex<DatapointStore>,
    pub raw: Mutex<RawStore>,
    pub sequence_rows: Mutex<RowStore>,
    /// Data modeling: spaces, containers, views, data models, instances.
    pub models: Mutex<ModelStore>,
    ids: IdGen,
}

impl Default for Project {
    fn default() -> Self {
        Project::new(IdGen::default())
    }
}

impl Project {
    pub fn new(ids: IdGen) -> Self {
        Project {
            meta: Mutex::new(MetaStore::default()),
            datapoints: Mutex::new(DatapointStore::default()),
            raw: Mutex::new(RawStore::default()),
            sequence_rows: Mutex::new(RowStore::default()),
            models: Mutex::new(ModelStore::default()),
            ids,
        }
    }
}

impl Project {
    pub fn next_id(&self) -> i64 {
        self.ids.next_id()
    }
}

/// The resources kept as JSON objects in CDF's own shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Assets,
    Events,
    Files,
    TimeSeries,
    Sequences,
    Labels,
    Relationships,
    DataSets,
    ExtPipes,
    ExtPipeRuns,
    Sessions,
}

#[derive(Default)]
pub struct MetaStore {
    pub assets: Collection,
    pub events: Collection,
    pub files: Collection,
    pub timeseries: Collection,
    pub sequences: Collection,
    pub labels: Collection,
    pub relationships: Collection,
    pub datasets: Collection,
    pub extpipes: Collection,
    pub extpipe_runs: Collection,
    pub sessions: Collection,
}

impl MetaStore {
    pub fn coll(&self, kind: Kind) -> &Collection {
        match kind {
            Kind::Assets => &self.assets,
            Kind::Events => &self.events,
            Kind::Files => &self.files,
            Kind::TimeSeries => &self.timeseries,
            Kind::Sequences => &self.sequences,
            Kind::Labels => &self.labels,
            Kind::Relationships => &self.relationships,
            Kind::DataSets => &self.datasets,
            Kind::ExtPipes => &self.extpipes,
            Kind::ExtPipeRuns => &self.extpipe_runs,
            Kind::Sessions => &self.sessions,
        }
    }
    pub fn coll_mut(&mut self, kind: Kind) -> &mut Collection {
        match kind {
            Kind::Assets => &mut self.assets,
            Kind::Events => &mut self.events,
            Kind::Files => &mut self.files,
            Kind::TimeSeries => &mut self.timeseries,
            Kind::Sequences => &mut self.sequences,
            Kind::Labels => &mut self.labels,
            Kind::Relationships => &mut self.relationships,
            Kind::DataSets => &mut self.datasets,
            Kind::ExtPipes => &mut self.extpipes,
            Kind::ExtPipeRuns => &mut self.extpipe_runs,
            Kind::Sessions => &mut self.sessions,
        }
    }
}
