//! Field and filter tables of the resources kept as JSON objects, from cdf-api.md §10 and the
//! cognite-sdk-python `*Write` / `*Update` classes.

use super::generic::*;
use super::project::Kind;

const MAX_TIME: i64 = i64::MAX / 2;

use Ty::*;
use Upd::*;

pub static ASSETS: Spec = Spec {
    kind: Kind::Assets,
    name: "assets",
    acl: "assetsAcl",
    create_limit: 1000,
    has_id: true,
    fields: &[
        f("externalId", Str(255), Set),
        req("name", Str(140), Set),
        f("parentId", Id, Set),
        f("parentExternalId", Str(255), Set),
        f("description", Str(500), SetNull),
        f("dataSetId", Id, SetNull),
        f("metadata", Meta(META_10K), Map),
        f("source", Str(128), SetNull),
        f("labels", Labels, List),
        f("geoLocation", Object, SetNull),
    ],
    filters: &[
        Filt::Eq("name", "name"),
        Filt::IdsAny("parentIds", "parentId"),
        Filt::XidsAny("parentExternalIds", "parentId", Kind::Assets),
        Filt::RefsAny("rootIds", "rootId", Kind::Assets),
        Filt::Subtree("assetSubtreeIds", "id"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Metadata,
        Filt::Eq("source", "source"),
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Custom("root"),
        Filt::Labels,
    ],
};

pub static EVENTS: Spec = Spec {
    kind: Kind::Events,
    name: "events",
    acl: "eventsAcl",
    create_limit: 1000,
    has_id: true,
    fields: &[
        f("externalId", Str(255), Set),
        f("dataSetId", Id, SetNull),
        f("startTime", Long(0, MAX_TIME), SetNull),
        f("endTime", Long(0, MAX_TIME), SetNull),
        f("type", Str(64), SetNull),
        f("subtype", Str(64), SetNull),
        f("description", Str(500), SetNull),
        f("metadata", Meta(META_EVENTS), Map),
        f("assetIds", IdList(10000), List),
        f("source", Str(128), SetNull),
    ],
    filters: &[
        Filt::Range("startTime", "startTime"),
        Filt::Range("endTime", "endTime"),
        Filt::Custom("activeAtTime"),
        Filt::Metadata,
        Filt::IdsAny("assetIds", "assetIds"),
        Filt::XidsAny("assetExternalIds", "assetIds", Kind::Assets),
        Filt::Subtree("assetSubtreeIds", "assetIds"),
        Filt::Eq("source", "source"),
        Filt::Eq("type", "type"),
        Filt::Eq("subtype", "subtype"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
    ],
};

pub static FILES: Spec = Spec {
    kind: Kind::Files,
    name: "files",
    acl: "filesAcl",
    create_limit: 1,
    has_id: true,
    fields: &[
        f("externalId", Str(255), Set),
        req("name", Str(256), Never),
        f("directory", Str(512), SetNull),
        f("source", Str(128), SetNull),
        f("mimeType", Str(256), SetNull),
        f("metadata", Meta(META_10K), Map),
        f("assetIds", IdList(1000), List),
        f("dataSetId", Id, SetNull),
        f("sourceCreatedTime", Long(0, MAX_TIME), SetNull),
        f("sourceModifiedTime", Long(0, MAX_TIME), SetNull),
        f("securityCategories", IdList(100), List),
        f("labels", Labels, List),
        f("geoLocation", Object, SetNull),
    ],
    filters: &[
        Filt::Eq("name", "name"),
        Filt::Prefix("directoryPrefix", "directory"),
        Filt::Eq("mimeType", "mimeType"),
        Filt::Metadata,
        Filt::IdsAny("assetIds", "assetIds"),
        Filt::XidsAny("assetExternalIds", "assetIds", Kind::Assets),
        Filt::Subtree("assetSubtreeIds", "assetIds"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Labels,
        Filt::Eq("source", "source"),
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
        Filt::Range("uploadedTime", "uploadedTime"),
        Filt::Range("sourceCreatedTime", "sourceCreatedTime"),
        Filt::Range("sourceModifiedTime", "sourceModifiedTime"),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Eq("uploaded", "uploaded"),
    ],
};

pub static TIMESERIES: Spec = Spec {
    kind: Kind::TimeSeries,
    name: "timeseries",
    acl: "timeSeriesAcl",
    create_limit: 1000,
    has_id: true,
    fields: &[
        f("externalId", Str(255), Set),
        f("name", Str(255), SetNull),
        f("legacyName", Str(255), Never),
        f("isString", Bool, Never),
        f("metadata", Meta(META_TS), Map),
        f("unit", Str(32), SetNull),
        f("unitExternalId", Str(256), SetNull),
        f("assetId", Id, SetNull),
        f("isStep", Bool, Set),
        f("description", Str(1000), SetNull),
        f("securityCategories", IdList(100), List),
        f("dataSetId", Id, SetNull),
    ],
    filters: &[
        Filt::Eq("name", "name"),
        Filt::Eq("unit", "unit"),
        Filt::Eq("unitExternalId", "unitExternalId"),
        Filt::Custom("unitQuantity"),
        Filt::Eq("isString", "isString"),
        Filt::Eq("isStep", "isStep"),
        Filt::Metadata,
        Filt::IdsAny("assetIds", "assetId"),
        Filt::XidsAny("assetExternalIds", "assetId", Kind::Assets),
        Filt::Custom("rootAssetIds"),
        Filt::Subtree("assetSubtreeIds", "assetId"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
    ],
};

pub static SEQUENCES: Spec = Spec {
    kind: Kind::Sequences,
    name: "sequences",
    acl: "sequencesAcl",
    create_limit: 1000,
    has_id: true,
    fields: &[
        f("externalId", Str(255), Set),
        f("name", Str(255), SetNull),
        f("description", Str(1000), SetNull),
        f("assetId", Id, SetNull),
        f("dataSetId", Id, SetNull),
        f("metadata", Meta(META_TS), Map),
        // Updated through the sequence-specific `modify`/`add`/`remove` operation.
        req("columns", ObjList(400), Never),
    ],
    filters: &[
        Filt::Eq("name", "name"),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Metadata,
        Filt::IdsAny("assetIds", "assetId"),
        Filt::Subtree("assetSubtreeIds", "assetId"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
    ],
};

pub static LABELS: Spec = Spec {
    kind: Kind::Labels,
    name: "labels",
    acl: "labelsAcl",
    create_limit: 1000,
    has_id: false,
    fields: &[
        req("externalId", Str(255), Never),
        req("name", Str(140), Never),
        f("description", Str(500), Never),
        f("dataSetId", Id, Never),
    ],
    filters: &[
        Filt::Eq("name", "name"),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
    ],
};

pub const VERTEX_TYPES: &[&str] = &["asset", "timeSeries", "file", "event", "sequence"];

pub static RELATIONSHIPS: Spec = Spec {
    kind: Kind::Relationships,
    name: "relationships",
    acl: "relationshipsAcl",
    create_limit: 1000,
    has_id: false,
    fields: &[
        req("externalId", Str(255), Never),
        req("sourceExternalId", Str(255), Set),
        req("sourceType", Enum(VERTEX_TYPES), Set),
        req("targetExternalId", Str(255), Set),
        req("targetType", Enum(VERTEX_TYPES), Set),
        f("startTime", Long(0, MAX_TIME), SetNull),
        f("endTime", Long(0, MAX_TIME), SetNull),
        f("confidence", Double(0.0, 1.0), SetNull),
        f("dataSetId", Id, SetNull),
        f("labels", Labels, List),
    ],
    filters: &[
        Filt::StrAny("sourceExternalIds", "sourceExternalId"),
        Filt::StrAny("sourceTypes", "sourceType"),
        Filt::StrAny("targetExternalIds", "targetExternalId"),
        Filt::StrAny("targetTypes", "targetType"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Range("startTime", "startTime"),
        Filt::Range("endTime", "endTime"),
        Filt::Range("confidence", "confidence"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
        Filt::Range("createdTime", "createdTime"),
        Filt::Custom("activeAtTime"),
        Filt::Labels,
    ],
};

pub static DATASETS: Spec = Spec {
    kind: Kind::DataSets,
    name: "datasets",
    acl: "datasetsAcl",
    create_limit: 10,
    has_id: true,
    fields: &[
        f("externalId", Str(255), Set),
        f("name", Str(50), SetNull),
        f("description", Str(500), SetNull),
        f("metadata", Meta(META_10K), Map),
        f("writeProtected", Bool, Set),
    ],
    filters: &[
        Filt::Metadata,
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Eq("writeProtected", "writeProtected"),
    ],
};

pub static EXTPIPES: Spec = Spec {
    kind: Kind::ExtPipes,
    name: "extpipes",
    acl: "extractionPipelinesAcl",
    create_limit: 1000,
    has_id: true,
    fields: &[
        req("externalId", Str(255), Set),
        req("name", Str(140), Set),
        f("description", Str(500), SetNull),
        req("dataSetId", Id, Set),
        f("rawTables", ObjList(1000), List),
        f("schedule", Str(256), SetNull),
        f("contacts", ObjList(100), List),
        f("metadata", Meta(META_10K), Map),
        f("source", Str(255), SetNull),
        f("documentation", Str(10000), SetNull),
        f("notificationConfig", Object, SetNull),
        f("createdBy", Str(255), SetNull),
    ],
    filters: &[
        Filt::Prefix("externalIdPrefix", "externalId"),
        Filt::Eq("name", "name"),
        Filt::Eq("description", "description"),
        Filt::RefsAny("dataSetIds", "dataSetId", Kind::DataSets),
        Filt::Eq("schedule", "schedule"),
        Filt::Eq("source", "source"),
        Filt::Eq("createdBy", "createdBy"),
        Filt::Metadata,
        Filt::Range("lastSeen", "lastSeen"),
        Filt::Range("createdTime", "createdTime"),
        Filt::Range("lastUpdatedTime", "lastUpdatedTime"),
    ],
};

/// Every JSON-object resource, for routing and dumps.
pub static ALL: &[&Spec] =
    &[&ASSETS, &EVENTS, &FILES, &TIMESERIES, &SEQUENCES, &LABELS, &RELATIONSHIPS, &DATASETS, &EXTPIPES];
