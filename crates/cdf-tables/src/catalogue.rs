//! The built-in tables: one per CDF resource, columns and types as the Gateway 2.0 page lists them
//! (shared/seed) and the rest of each resource's fields from cdf-api.md §10.

/// How INSERT and COPY treat rows whose external id already exists in CDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Create, then update the rows CDF reports as duplicated.
    Upsert,
    /// Create; a duplicate is an error.
    Create,
    /// Create; duplicates are skipped.
    Ignore,
    /// `/update` of existing objects only (by id or external id); a missing one is an error.
    /// For INSERT-only tools (ADF) that must change objects.
    Update,
    /// `/delete` of the objects whose identity the rows carry.
    Delete,
}

impl InsertMode {
    pub const NAMES: &'static str = "upsert, create, ignore, update, delete";

    pub fn parse(s: &str) -> Option<InsertMode> {
        match s {
            "upsert" => Some(InsertMode::Upsert),
            "create" => Some(InsertMode::Create),
            "ignore" => Some(InsertMode::Ignore),
            "update" => Some(InsertMode::Update),
            "delete" => Some(InsertMode::Delete),
            _ => None,
        }
    }

    /// Whether rows become changes of existing objects (`/update`, `/delete`) instead of writes.
    pub fn changes_existing(&self) -> bool {
        matches!(self, InsertMode::Update | InsertMode::Delete)
    }
}

/// PostgreSQL type of a catalogue column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    BigInt,
    BigIntArray,
    Text,
    Varchar(u32),
    TextArray,
    Bool,
    Double,
    TimestampTz,
    Json,
}

impl ColumnType {
    /// The type as written in `CREATE FOREIGN TABLE`.
    pub fn sql(&self) -> String {
        match self {
            ColumnType::BigInt => "BIGINT".into(),
            ColumnType::BigIntArray => "BIGINT[]".into(),
            ColumnType::Text => "TEXT".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
            ColumnType::TextArray => "TEXT[]".into(),
            ColumnType::Bool => "BOOL".into(),
            ColumnType::Double => "DOUBLE PRECISION".into(),
            ColumnType::TimestampTz => "TIMESTAMPTZ".into(),
            ColumnType::Json => "JSON".into(),
        }
    }

    /// The type schema-qualified, for generated DDL: IMPORT FOREIGN SCHEMA runs with the importing
    /// role's search_path, where a schema listed before pg_catalog could define its own `text`.
    pub fn qualified_sql(&self) -> String {
        match self {
            ColumnType::BigInt => "pg_catalog.int8".into(),
            ColumnType::BigIntArray => "pg_catalog.int8[]".into(),
            ColumnType::Text => "pg_catalog.text".into(),
            ColumnType::Varchar(n) => format!("pg_catalog.varchar({n})"),
            ColumnType::TextArray => "pg_catalog.text[]".into(),
            ColumnType::Bool => "pg_catalog.bool".into(),
            ColumnType::Double => "pg_catalog.float8".into(),
            ColumnType::TimestampTz => "pg_catalog.timestamptz".into(),
            ColumnType::Json => "pg_catalog.json".into(),
        }
    }
}

/// Whether a column may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Assigned by CDF (ids, timestamps); a non-NULL value on write is an error.
    ReadOnly,
    Optional,
    /// CDF rejects an item without it; NULL is an error naming the row.
    Required,
}

/// Where a column's value lives in the CDF JSON item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A top-level field, camelCase.
    Json(&'static str),
    /// A field of a nested object, e.g. `status.code`.
    Nested(&'static str, &'static str),
    /// `TEXT[]` of label external ids <-> `[{"externalId": ...}]`.
    LabelRefs(&'static str),
    /// A single id that the Gateway 2.0 page types as `BIGINT[]` (labels.data_set_id).
    SingleFromArray(&'static str),
    /// Not part of the item body: the resource's writer places it (URL path, series identity, ...).
    Address,
    /// Another object named by external id where CDF's field takes internal ids: the extension
    /// looks the ids up (writes) and the external ids (reads).
    ExternalIdRef(Reference),
}

/// What a reference-by-external-id column points at (`data_set_external_id` -> `dataSetId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// The item's field holding the internal id, or ids for a `TEXT[]` column.
    pub id_field: &'static str,
    /// API path of the referenced resource, for `byids`.
    pub target: &'static str,
    /// What the referenced object is, for messages ("data set", "asset").
    pub noun: &'static str,
    /// The column of the same field by internal id: a row gives one or the other.
    pub id_column: &'static str,
}

/// Which time range a timestamp column accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeDomain {
    /// Milliseconds since 1970 (CDF rejects negative times outside datapoints).
    SinceEpoch,
    /// Datapoint timestamps: 1900-01-01 .. 2099-12-31 23:59:59.999.
    Datapoint,
}

pub const MIN_DATAPOINT_MS: i64 = -2_208_988_800_000;
pub const MAX_DATAPOINT_MS: i64 = 4_102_444_799_999;
/// Largest timestamp CDF accepts on resource fields (same ceiling as datapoints).
pub const MAX_TIMESTAMP_MS: i64 = MAX_DATAPOINT_MS;

/// Limits CDF puts on a `metadata` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataLimits {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_pairs: usize,
    pub max_total_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub field: Field,
    pub access: Access,
    /// CDF's limit in characters, checked with a clear error before sending.
    pub max_chars: Option<usize>,
    pub time_domain: TimeDomain,
    pub metadata_limits: Option<MetadataLimits>,
    /// Set when the object is created and never changed by `/update` (an upsert leaves it out).
    pub create_only: bool,
    /// CDF accepts `""` here (string datapoint values); every other text field must be non-empty.
    pub allows_empty: bool,
    /// The value becomes a URL path segment (RAW names and keys): `.` and `..` cannot be one.
    pub in_url_path: bool,
    /// `/update` can set it but not clear it (an asset's parent): `null_values 'clear'` leaves it.
    pub set_only: bool,
}

impl Column {
    /// What the column points at when it names another object by external id.
    pub fn reference(&self) -> Option<Reference> {
        match self.field {
            Field::ExternalIdRef(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the column names the item's parent of its own kind (assets' parent_id and
    /// parent_external_id).
    pub fn names_parent(&self) -> bool {
        matches!(self.field, Field::Json("parentExternalId" | "parentId"))
    }
}

/// How rows of a table are written to CDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `POST /{path}` with `{"items": [...]}`, at most `max_items` per request.
    Items { max_items: usize },
    /// `POST /files?overwrite=`: one file per request.
    File,
    /// `POST /timeseries/data`.
    Datapoints { is_string: bool },
    /// `POST /sequences/data`.
    SequenceRows,
    /// `POST /raw/dbs/{db}/tables/{table}/rows`.
    RawRows,
    /// `POST /raw/dbs`.
    RawDatabases,
    /// `POST /raw/dbs/{db}/tables`.
    RawTables,
}

/// How SELECT reads a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// `POST /{path}/list` for everything, `POST /{path}/byids` for `id`/`external_id` conditions.
    Items,
    /// `POST /extpipes/runs/list` per pipeline: `external_id` (of the pipeline) is required.
    PipelineRuns,
    /// `POST /timeseries/data/list`: the series is required, `timestamp` ranges are pushed.
    Datapoints,
    /// `POST /sequences/data/list`: the sequence is required, `row_number` ranges are pushed.
    SequenceRows,
    /// `GET /raw/dbs`.
    RawDatabases,
    /// `GET /raw/dbs/{db}/tables`, per database.
    RawTables,
    /// `GET /raw/dbs/{db}/tables/{table}/rows` (one table required), or a row by key.
    RawRows,
}

/// How a condition on a column becomes a field of the `filter` of `POST /{resource}/list`
/// (cdf-api.md §10 filter lists; cognite-sdk-python's `*Filter` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `col = v` → `"field": v` (one value; an `IN` of several is not pushed).
    Equals,
    /// `col = v` / `col IN (...)` → `"field": [v, ...]` (ids or strings, any of them).
    AnyOf,
    /// `col = v` / `col IN (...)` → `"field": [{"id": v}, ...]`.
    AnyOfIds,
    /// `col LIKE 'p%'` → `"field": "p"`.
    Prefix,
    /// `<`, `<=`, `=`, `>=`, `>` on a timestamp → `"field": {"min": ms, "max": ms}` (inclusive).
    TimeRange,
    /// `col->>'key' = 'v'` → `"metadata": {"key": "v"}`.
    Metadata,
    /// `col && ARRAY[ids]` → `"field": [ids]` (the object holds any of them).
    Overlaps,
    /// `col @> ARRAY[...]` → `{"containsAll": [{"externalId"}]}`, `col && ARRAY[...]` → `containsAny`.
    Labels,
}

/// A column whose conditions CDF's list filter answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFilter {
    pub column: &'static str,
    /// The key in the `filter` object.
    pub field: &'static str,
    pub kind: FilterKind,
    /// CDF returns exactly the rows the condition holds for (not a superset, e.g. case-insensitive):
    /// only then may a LIMIT stop the list early.
    pub exact: bool,
}

const fn filt(column: &'static str, field: &'static str, kind: FilterKind) -> ListFilter {
    ListFilter { column, field, kind, exact: true }
}

/// A filter CDF may answer with a superset (relationships match external ids case-insensitively
/// in the emulator; CDF does not document it): conditions stay exact only locally.
const fn loose(column: &'static str, field: &'static str, kind: FilterKind) -> ListFilter {
    ListFilter { column, field, kind, exact: false }
}

/// Most values CDF takes in one list filter (`dataSetIds`, `assetIds`, `parentIds`, ... ≤ 100).
pub const MAX_FILTER_VALUES: usize = 100;

use FilterKind as FK;

const COMMON_FILTERS: [ListFilter; 4] = [
    filt("external_id", "externalIdPrefix", FK::Prefix),
    filt("metadata", "metadata", FK::Metadata),
    filt("created_time", "createdTime", FK::TimeRange),
    filt("last_updated_time", "lastUpdatedTime", FK::TimeRange),
];

const ASSET_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[1],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    filt("name", "name", FK::Equals),
    filt("source", "source", FK::Equals),
    filt("parent_id", "parentIds", FK::AnyOf),
    filt("parent_external_id", "parentExternalIds", FK::AnyOf),
    filt("root_id", "rootIds", FK::AnyOfIds),
    filt("labels", "labels", FK::Labels),
];

const EVENT_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[1],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    filt("source", "source", FK::Equals),
    filt("type", "type", FK::Equals),
    filt("subtype", "subtype", FK::Equals),
    filt("start_time", "startTime", FK::TimeRange),
    filt("end_time", "endTime", FK::TimeRange),
    filt("asset_ids", "assetIds", FK::Overlaps),
];

const FILE_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[1],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    filt("name", "name", FK::Equals),
    filt("source", "source", FK::Equals),
    filt("mime_type", "mimeType", FK::Equals),
    filt("uploaded", "uploaded", FK::Equals),
    filt("source_created_time", "sourceCreatedTime", FK::TimeRange),
    filt("source_modified_time", "sourceModifiedTime", FK::TimeRange),
    filt("uploaded_time", "uploadedTime", FK::TimeRange),
    filt("asset_ids", "assetIds", FK::Overlaps),
    filt("labels", "labels", FK::Labels),
];

const TIME_SERIES_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[1],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    filt("name", "name", FK::Equals),
    filt("unit", "unit", FK::Equals),
    filt("unit_external_id", "unitExternalId", FK::Equals),
    filt("is_string", "isString", FK::Equals),
    filt("is_step", "isStep", FK::Equals),
    filt("asset_id", "assetIds", FK::AnyOf),
];

const SEQUENCE_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[1],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    filt("name", "name", FK::Equals),
    filt("asset_id", "assetIds", FK::AnyOf),
];

const LABEL_FILTERS: &[ListFilter] = &[COMMON_FILTERS[0], filt("name", "name", FK::Equals)];

const RELATIONSHIP_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    loose("source_external_id", "sourceExternalIds", FK::AnyOf),
    loose("source_type", "sourceTypes", FK::AnyOf),
    loose("target_external_id", "targetExternalIds", FK::AnyOf),
    loose("target_type", "targetTypes", FK::AnyOf),
    filt("start_time", "startTime", FK::TimeRange),
    filt("end_time", "endTime", FK::TimeRange),
    filt("labels", "labels", FK::Labels),
];

const DATA_SET_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[1],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("write_protected", "writeProtected", FK::Equals),
];

const PIPELINE_FILTERS: &[ListFilter] = &[
    COMMON_FILTERS[0],
    COMMON_FILTERS[2],
    COMMON_FILTERS[3],
    filt("data_set_id", "dataSetIds", FK::AnyOfIds),
    filt("name", "name", FK::Equals),
    filt("source", "source", FK::Equals),
    filt("schedule", "schedule", FK::Equals),
    filt("created_by", "createdBy", FK::Equals),
];

/// How an object is named in `/delete` (and `/update`) requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRef {
    /// `{"id": n}` when the id is known, else `{"externalId": "x"}`.
    IdOrExternalId,
    /// `{"externalId": "x"}` only (labels have no internal id).
    ExternalId,
}

/// How DELETE reaches CDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteKind {
    /// CDF has no delete endpoint.
    Unsupported,
    /// `POST /{path}/delete` with item references; `ignore_unknown_ids` when the endpoint takes
    /// `ignoreUnknownIds` (labels and extraction pipelines reject the field).
    Items { by: ItemRef, ignore_unknown_ids: bool },
    /// `POST /timeseries/data/delete`, a 1 ms range per point.
    DatapointRanges,
    /// `POST /sequences/data/delete` by row number.
    SequenceRows,
    /// `POST /raw/dbs/{db}/tables/{table}/rows/delete` by key.
    RawRows,
    /// `POST /raw/dbs/{db}/tables/delete`.
    RawTables,
    /// `POST /raw/dbs/delete` with `recursive: true`.
    RawDatabases,
}

/// CDF's per-request limits (cdf-api.md §3), the one place the client takes them from.
pub mod limits {
    /// Items per create request, the default of most resources (data sets take 10).
    pub const ITEMS_PER_REQUEST: usize = 1_000;
    pub const DATA_SETS_PER_REQUEST: usize = 10;
    /// Items per `/update` and `/delete` request.
    pub const CHANGES_PER_REQUEST: usize = 1_000;
    /// Rows per RAW insert: half of the 10,000 CDF allows, as cognite-sdk sends. The last request
    /// of a COPY is what the statement waits for, and a smaller one ends sooner (CDF's time per
    /// RAW request grows with its rows and bytes); measured with `bench/copy_bench.sh`.
    pub const RAW_ROWS_PER_REQUEST: usize = 5_000;
    /// Instances per `POST /models/instances` (and byids, delete): DMS's documented maximum
    /// (cognite-sdk-python `_CREATE_LIMIT`).
    pub const INSTANCES_PER_REQUEST: usize = 1_000;
    /// RAW databases and tables per create request.
    pub const RAW_NAMES_PER_REQUEST: usize = 1_000;
    pub const DATAPOINTS_PER_REQUEST: usize = 100_000;
    pub const SERIES_PER_REQUEST: usize = 10_000;
    pub const SEQUENCE_ROWS_PER_REQUEST: usize = 10_000;
    pub const SEQUENCE_VALUES_PER_REQUEST: usize = 100_000;
    pub const SEQUENCES_PER_REQUEST: usize = 1_000;
    /// Page sizes of reads: `limit` of item lists and byids, datapoints, sequence and RAW rows.
    pub const ITEMS_PAGE: usize = 1_000;
    pub const DATAPOINTS_PAGE: usize = 100_000;
    pub const ROWS_PAGE: usize = 10_000;
    /// Bytes a RAW rows page aims at: the reader asks for as many rows as fit, from the bytes per
    /// row it has seen, so big rows (CDF allows 5 MB each) cost a backend a few of these, not
    /// `cdf_fdw.max_response_size`.
    pub const RAW_PAGE_BYTES: usize = 4 * 1024 * 1024;
    /// A RAW page larger than this is cut off and asked for again with fewer rows: room for rows
    /// twice the size of the ones seen so far, and above the largest single row CDF stores (5 MB).
    pub const RAW_PAGE_CAP: usize = 2 * RAW_PAGE_BYTES;
    /// Partitions of an unfiltered list of a resource CDF lists in parallel (`"partition": "m/n"`,
    /// at most 10), fetched side by side: as many as a statement keeps write requests in flight.
    pub const LIST_PARTITIONS: usize = DEFAULT_CONCURRENT_REQUESTS;
    /// Time windows of one series' datapoints fetched side by side by a read (at most
    /// `max_concurrent_requests`): each holds a page of up to 100,000 points (about 8 MB as rows)
    /// while it waits its turn. 8 matches the default concurrency; with 4, a million points read
    /// 1.5 s instead of 1.0 s under the emulator's cdf profile (bench/read_bench.sh).
    pub const DATAPOINT_WINDOWS: usize = 8;
    /// Write requests one statement keeps in flight unless `max_concurrent_requests` says
    /// otherwise (measured with `bench/copy_bench.sh` under the emulator's cdf profile).
    pub const DEFAULT_CONCURRENT_REQUESTS: usize = 8;
    /// CDF's documented concurrent requests per identity (docs.cognite.com API rate limits,
    /// "per identity"): assets CRUD 23, events CRUD 30, RAW 48. Resources whose numbers are not
    /// published take the assets ones, as the emulator does.
    pub const ASSETS_CONCURRENT_REQUESTS: usize = 23;
    pub const EVENTS_CONCURRENT_REQUESTS: usize = 30;
    pub const RAW_CONCURRENT_REQUESTS: usize = 48;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// Table name in `IMPORT FOREIGN SCHEMA` and the value of the `resource` table option.
    pub table: &'static str,
    /// API path below `/api/v1/projects/{project}/`.
    pub api_path: &'static str,
    /// The capability that guards reads and writes.
    pub acl: &'static str,
    pub columns: &'static [Column],
    pub write: WriteKind,
    pub read: ReadKind,
    pub supports_update: bool,
    pub delete: DeleteKind,
    /// The columns `POST /{api_path}/list` filters by (`ReadKind::Items` only).
    pub list_filters: &'static [ListFilter],
}

/// The resources CDF counts with `POST /{api_path}/aggregate` (API reference: aggregate assets,
/// events, time series, files, sequences).
const AGGREGATE_COUNT_PATHS: &[&str] = &["assets", "events", "timeseries", "files", "sequences"];

/// The columns `POST /{api_path}/list` sorts by (`sort` with `property`, `order` and `nulls`; API
/// reference "Filter events": startTime, endTime, createdTime, lastUpdatedTime).
const LIST_SORTS: &[(&str, &[&str])] = &[("events", &["start_time", "end_time", "created_time", "last_updated_time"])];

impl Resource {
    /// The JSON field `POST /{api_path}/list` sorts by for `column`, when CDF sorts by it.
    pub fn sort_field(&self, column: &str) -> Option<&'static str> {
        let (_, columns) =
            LIST_SORTS.iter().find(|(path, _)| *path == self.api_path && self.read == ReadKind::Items)?;
        if !columns.contains(&column) {
            return None;
        }
        match self.column(column)?.field {
            Field::Json(field) => Some(field),
            _ => None,
        }
    }

    /// The list filter that answers conditions on `column`.
    pub fn list_filter(&self, column: &str) -> Option<&'static ListFilter> {
        self.list_filters.iter().find(|f| f.column == column)
    }

    /// Whether CDF counts this resource's objects itself (`POST /{api_path}/aggregate`).
    pub fn has_aggregate_count(&self) -> bool {
        self.read == ReadKind::Items && AGGREGATE_COUNT_PATHS.contains(&self.api_path)
    }

    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column whose value lives in a top-level JSON field of the item.
    pub fn column_of_field(&self, field: &str) -> Option<&'static Column> {
        self.columns
            .iter()
            .find(|c| matches!(c.field, Field::Json(f) | Field::LabelRefs(f) | Field::SingleFromArray(f) if f == field))
    }

    /// The columns that name other objects by external id.
    pub fn references(&self) -> impl Iterator<Item = (&'static Column, Reference)> {
        self.columns.iter().filter_map(|c| c.reference().map(|r| (c, r)))
    }

    /// Whether items name a parent of their own kind (`parentExternalId`, `parentId`), which
    /// CDF wants to exist before them or in the same request: assets.
    pub fn has_hierarchy(&self) -> bool {
        self.columns.iter().any(Column::names_parent)
    }

    /// JSON fields an upsert's `/update` must leave out: those CDF assigns and the create-only ones.
    pub fn create_only_fields(&self) -> impl Iterator<Item = &'static str> {
        self.columns.iter().filter(|c| c.create_only || c.access == Access::ReadOnly).filter_map(|c| match c.field {
            Field::Json(f) => Some(f),
            _ => None,
        })
    }

    /// Whether CDF overwrites rows by key (datapoints, sequence rows, RAW rows): a write is an
    /// upsert by nature, and an UPDATE is a rewrite of the row.
    pub fn overwrites_by_key(&self) -> bool {
        matches!(self.write, WriteKind::Datapoints { .. } | WriteKind::SequenceRows | WriteKind::RawRows)
    }

    pub fn supports_delete(&self) -> bool {
        self.delete != DeleteKind::Unsupported
    }

    /// Rows per write request, for EXPLAIN and the batch-insert size.
    pub fn rows_per_request(&self) -> usize {
        match self.write {
            WriteKind::Items { max_items } => max_items,
            WriteKind::File => 1,
            WriteKind::RawDatabases | WriteKind::RawTables => limits::RAW_NAMES_PER_REQUEST,
            WriteKind::RawRows => limits::RAW_ROWS_PER_REQUEST,
            WriteKind::Datapoints { .. } => limits::DATAPOINTS_PER_REQUEST,
            WriteKind::SequenceRows => limits::SEQUENCE_ROWS_PER_REQUEST,
        }
    }

    /// The write requests a statement keeps in flight when `max_concurrent_requests` asks for
    /// `requested`: at least one, at most what CDF documents, and files one at a time (one file per
    /// request; side by side CDF would give them ids, and so list order, unlike the rows' order).
    pub fn write_concurrency(&self, requested: usize) -> usize {
        match self.write {
            WriteKind::File => 1,
            _ => requested.clamp(1, self.documented_concurrency()),
        }
    }

    /// How many partitions an unfiltered list of this resource is read in: the resources whose
    /// `/list` takes CDF's `partition` (docs.cognite.com API, "Parallel retrieval"); `None` for
    /// the others (data sets, labels, ...), read as one list.
    pub fn list_partitions(&self) -> Option<usize> {
        match (self.read, self.api_path) {
            (ReadKind::Items, "assets" | "events" | "timeseries" | "files" | "sequences" | "relationships") => {
                Some(limits::LIST_PARTITIONS)
            }
            _ => None,
        }
    }

    /// The most write requests one identity may have in flight at CDF for this resource, as
    /// CDF documents it (`limits::*_CONCURRENT_REQUESTS`); `max_concurrent_requests` is cut to it.
    pub fn documented_concurrency(&self) -> usize {
        match (self.write, self.api_path) {
            (WriteKind::RawDatabases | WriteKind::RawTables | WriteKind::RawRows, _) => limits::RAW_CONCURRENT_REQUESTS,
            (_, "events") => limits::EVENTS_CONCURRENT_REQUESTS,
            _ => limits::ASSETS_CONCURRENT_REQUESTS,
        }
    }

    /// The endpoint INSERT and COPY send rows to, for EXPLAIN.
    pub fn write_endpoint(&self) -> String {
        match self.write {
            WriteKind::Items { .. } | WriteKind::RawDatabases => format!("POST /{}", self.api_path),
            WriteKind::File => format!("POST /{}?overwrite=true", self.api_path),
            WriteKind::RawTables => "POST /raw/dbs/{db}/tables?ensureParent=true".into(),
            WriteKind::RawRows => "POST /raw/dbs/{db}/tables/{table}/rows?ensureParent=true".into(),
            WriteKind::Datapoints { .. } => "POST /timeseries/data".into(),
            WriteKind::SequenceRows => "POST /sequences/data".into(),
        }
    }

    /// The endpoint an UPDATE (`delete` false) or DELETE uses, for EXPLAIN.
    pub fn change_endpoint(&self, delete: bool) -> String {
        if !delete {
            return match self.write {
                WriteKind::Items { .. } | WriteKind::File => format!("POST /{}/update", self.api_path),
                _ => format!("{} (rows written again; a moved key is deleted first)", self.write_endpoint()),
            };
        }
        match self.delete {
            DeleteKind::Unsupported => "none".into(),
            DeleteKind::Items { .. } => format!("POST /{}/delete", self.api_path),
            DeleteKind::DatapointRanges => "POST /timeseries/data/delete".into(),
            DeleteKind::SequenceRows => "POST /sequences/data/delete".into(),
            DeleteKind::RawRows => "POST /raw/dbs/{db}/tables/{table}/rows/delete".into(),
            DeleteKind::RawTables => "POST /raw/dbs/{db}/tables/delete".into(),
            DeleteKind::RawDatabases => "POST /raw/dbs/delete (recursive)".into(),
        }
    }

    /// The insert mode a resource can honour: without an update endpoint an upsert of items
    /// cannot update, so duplicates are then errors. (For RAW databases and tables an existing
    /// one is what an upsert wants.)
    pub fn effective_insert_mode(&self, mode: InsertMode) -> InsertMode {
        let items_without_update = matches!(self.write, WriteKind::Items { .. }) && !self.supports_update;
        if mode == InsertMode::Upsert && items_without_update {
            InsertMode::Create
        } else {
            mode
        }
    }

    /// Whether a write answers with the stored object (ids, times), as RETURNING needs.
    pub fn returns_objects(&self) -> bool {
        matches!(self.write, WriteKind::Items { .. } | WriteKind::File)
    }

    /// `CREATE FOREIGN TABLE` statement for this resource, as IMPORT FOREIGN SCHEMA emits it.
    /// The table is unqualified: PostgreSQL places it in the IMPORT's target schema.
    pub fn create_table_sql(&self, server: &str) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let not_null = if c.access == Access::Required { " NOT NULL" } else { "" };
                format!("  {} {}{}", quote_ident(c.name), c.ty.qualified_sql(), not_null)
            })
            .collect();
        format!(
            "CREATE FOREIGN TABLE {} (\n{}\n) SERVER {} OPTIONS (resource {})",
            quote_ident(self.table),
            cols.join(",\n"),
            quote_ident(server),
            quote_literal(self.table)
        )
    }
}

/// Quotes an SQL identifier when it is not a plain lower-case name or is a keyword we emit.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Column names of ours that PostgreSQL treats as reserved words.
const RESERVED: &[&str] = &["timestamp", "values"];

const fn col(name: &'static str, ty: ColumnType, field: Field, access: Access) -> Column {
    Column {
        name,
        ty,
        field,
        access,
        max_chars: None,
        time_domain: TimeDomain::SinceEpoch,
        metadata_limits: None,
        create_only: false,
        allows_empty: false,
        in_url_path: false,
        set_only: false,
    }
}

const fn set_only(mut c: Column) -> Column {
    c.set_only = true;
    c
}

const fn in_url_path(mut c: Column) -> Column {
    c.in_url_path = true;
    c
}

const fn allows_empty(mut c: Column) -> Column {
    c.allows_empty = true;
    c
}

const fn create_only(mut c: Column) -> Column {
    c.create_only = true;
    c
}

const fn limited(mut c: Column, max_chars: usize) -> Column {
    c.max_chars = Some(max_chars);
    c
}

const fn metadata(limits: MetadataLimits) -> Column {
    let mut c = col("metadata", ColumnType::Json, Field::Json("metadata"), Access::Optional);
    c.metadata_limits = Some(limits);
    c
}

const ASSET_METADATA: MetadataLimits =
    MetadataLimits { max_key_bytes: 128, max_value_bytes: 10_240, max_pairs: 256, max_total_bytes: 10_240 };
const EVENT_METADATA: MetadataLimits =
    MetadataLimits { max_key_bytes: 128, max_value_bytes: 128_000, max_pairs: 256, max_total_bytes: 200_000 };
const TIMESERIES_METADATA: MetadataLimits =
    MetadataLimits { max_key_bytes: 128, max_value_bytes: 10_000, max_pairs: 256, max_total_bytes: 10_000 };

use Access::*;
use ColumnType::*;

const ID: Column = col("id", BigInt, Field::Json("id"), ReadOnly);
const EXTERNAL_ID: Column = limited(col("external_id", Varchar(255), Field::Json("externalId"), Optional), 255);
const REQUIRED_EXTERNAL_ID: Column =
    limited(col("external_id", Varchar(255), Field::Json("externalId"), Required), 255);
const DATA_SET_ID: Column = col("data_set_id", BigInt, Field::Json("dataSetId"), Optional);
const DATA_SET_EXTERNAL_ID: Column = limited(
    col(
        "data_set_external_id",
        Varchar(255),
        Field::ExternalIdRef(Reference {
            id_field: "dataSetId",
            target: "datasets",
            noun: "data set",
            id_column: "data_set_id",
        }),
        Optional,
    ),
    255,
);
const ASSET_EXTERNAL_ID: Column = limited(
    col(
        "asset_external_id",
        Varchar(255),
        Field::ExternalIdRef(Reference { id_field: "assetId", target: "assets", noun: "asset", id_column: "asset_id" }),
        Optional,
    ),
    255,
);
const ASSET_EXTERNAL_IDS: Column = limited(
    col(
        "asset_external_ids",
        TextArray,
        Field::ExternalIdRef(Reference {
            id_field: "assetIds",
            target: "assets",
            noun: "asset",
            id_column: "asset_ids",
        }),
        Optional,
    ),
    255,
);
const CREATED_TIME: Column = col("created_time", TimestampTz, Field::Json("createdTime"), ReadOnly);
const LAST_UPDATED_TIME: Column = col("last_updated_time", TimestampTz, Field::Json("lastUpdatedTime"), ReadOnly);

const ASSETS: &[Column] = &[
    ID,
    EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Required), 140),
    set_only(col("parent_id", BigInt, Field::Json("parentId"), Optional)),
    set_only(limited(col("parent_external_id", Varchar(255), Field::Json("parentExternalId"), Optional), 255)),
    limited(col("description", Text, Field::Json("description"), Optional), 500),
    DATA_SET_ID,
    DATA_SET_EXTERNAL_ID,
    metadata(ASSET_METADATA),
    limited(col("source", Text, Field::Json("source"), Optional), 128),
    col("labels", TextArray, Field::LabelRefs("labels"), Optional),
    col("geo_location", Json, Field::Json("geoLocation"), Optional),
    col("root_id", BigInt, Field::Json("rootId"), ReadOnly),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const EVENTS: &[Column] = &[
    ID,
    EXTERNAL_ID,
    DATA_SET_ID,
    DATA_SET_EXTERNAL_ID,
    col("start_time", TimestampTz, Field::Json("startTime"), Optional),
    col("end_time", TimestampTz, Field::Json("endTime"), Optional),
    limited(col("type", Text, Field::Json("type"), Optional), 64),
    limited(col("subtype", Text, Field::Json("subtype"), Optional), 64),
    limited(col("description", Text, Field::Json("description"), Optional), 500),
    metadata(EVENT_METADATA),
    col("asset_ids", BigIntArray, Field::Json("assetIds"), Optional),
    ASSET_EXTERNAL_IDS,
    limited(col("source", Text, Field::Json("source"), Optional), 128),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const FILES: &[Column] = &[
    ID,
    EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Required), 256),
    limited(col("directory", Varchar(512), Field::Json("directory"), Optional), 512),
    limited(col("source", Text, Field::Json("source"), Optional), 128),
    limited(col("mime_type", Text, Field::Json("mimeType"), Optional), 256),
    metadata(ASSET_METADATA),
    col("asset_ids", BigIntArray, Field::Json("assetIds"), Optional),
    ASSET_EXTERNAL_IDS,
    DATA_SET_ID,
    DATA_SET_EXTERNAL_ID,
    col("source_created_time", TimestampTz, Field::Json("sourceCreatedTime"), Optional),
    col("source_modified_time", TimestampTz, Field::Json("sourceModifiedTime"), Optional),
    col("security_categories", BigIntArray, Field::Json("securityCategories"), Optional),
    col("labels", TextArray, Field::LabelRefs("labels"), Optional),
    col("geo_location", Json, Field::Json("geoLocation"), Optional),
    col("uploaded", Bool, Field::Json("uploaded"), ReadOnly),
    col("uploaded_time", TimestampTz, Field::Json("uploadedTime"), ReadOnly),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const TIME_SERIES: &[Column] = &[
    ID,
    EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Optional), 255),
    create_only(col("is_string", Bool, Field::Json("isString"), Optional)),
    col("is_step", Bool, Field::Json("isStep"), Optional),
    metadata(TIMESERIES_METADATA),
    limited(col("unit", Text, Field::Json("unit"), Optional), 32),
    limited(col("unit_external_id", Text, Field::Json("unitExternalId"), Optional), 256),
    col("asset_id", BigInt, Field::Json("assetId"), Optional),
    ASSET_EXTERNAL_ID,
    limited(col("description", Text, Field::Json("description"), Optional), 1000),
    col("security_categories", BigIntArray, Field::Json("securityCategories"), Optional),
    DATA_SET_ID,
    DATA_SET_EXTERNAL_ID,
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const fn datapoint_columns(value: Column) -> [Column; 8] {
    let mut timestamp = col("timestamp", TimestampTz, Field::Json("timestamp"), Required);
    timestamp.time_domain = TimeDomain::Datapoint;
    [
        col("id", BigInt, Field::Address, Optional),
        limited(col("external_id", Varchar(255), Field::Address, Optional), 255),
        // The series as a data-modeling node (a CogniteTimeSeries): `instanceId` in requests.
        limited(col("instance_space", Varchar(255), Field::Address, Optional), 255),
        limited(col("instance_external_id", Varchar(255), Field::Address, Optional), 255),
        timestamp,
        value,
        col("status_code", BigInt, Field::Nested("status", "code"), Optional),
        col("status_symbol", Text, Field::Nested("status", "symbol"), Optional),
    ]
}

const DOUBLE_DATAPOINTS: &[Column] = &datapoint_columns(col("value", Double, Field::Json("value"), Optional));
const STRING_DATAPOINTS: &[Column] =
    &datapoint_columns(allows_empty(limited(col("value", Varchar(255), Field::Json("value"), Optional), 255)));

const SEQUENCES: &[Column] = &[
    ID,
    EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Optional), 255),
    limited(col("description", Text, Field::Json("description"), Optional), 1000),
    col("asset_id", BigInt, Field::Json("assetId"), Optional),
    ASSET_EXTERNAL_ID,
    DATA_SET_ID,
    DATA_SET_EXTERNAL_ID,
    metadata(TIMESERIES_METADATA),
    create_only(col("columns", Json, Field::Json("columns"), Required)),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const SEQUENCE_ROWS: &[Column] = &[
    col("id", BigInt, Field::Address, Optional),
    limited(col("external_id", Varchar(255), Field::Address, Optional), 255),
    col("row_number", BigInt, Field::Json("rowNumber"), Required),
    col("values", Json, Field::Json("values"), Required),
];

const LABELS: &[Column] = &[
    REQUIRED_EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Required), 140),
    limited(col("description", Text, Field::Json("description"), Optional), 500),
    // The Gateway 2.0 page lists data_set_id as BIGINT[]; CDF holds one data set per label.
    col("data_set_id", BigIntArray, Field::SingleFromArray("dataSetId"), Optional),
    CREATED_TIME,
];

const RELATIONSHIPS: &[Column] = &[
    REQUIRED_EXTERNAL_ID,
    limited(col("source_external_id", Varchar(255), Field::Json("sourceExternalId"), Required), 255),
    col("source_type", Text, Field::Json("sourceType"), Required),
    limited(col("target_external_id", Varchar(255), Field::Json("targetExternalId"), Required), 255),
    col("target_type", Text, Field::Json("targetType"), Required),
    col("start_time", TimestampTz, Field::Json("startTime"), Optional),
    col("end_time", TimestampTz, Field::Json("endTime"), Optional),
    col("confidence", Double, Field::Json("confidence"), Optional),
    DATA_SET_ID,
    DATA_SET_EXTERNAL_ID,
    col("labels", TextArray, Field::LabelRefs("labels"), Optional),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const DATA_SETS: &[Column] = &[
    ID,
    EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Optional), 50),
    limited(col("description", Text, Field::Json("description"), Optional), 500),
    metadata(ASSET_METADATA),
    col("write_protected", Bool, Field::Json("writeProtected"), Optional),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const EXTRACTION_PIPELINES: &[Column] = &[
    ID,
    REQUIRED_EXTERNAL_ID,
    limited(col("name", Text, Field::Json("name"), Required), 140),
    col("data_set_id", BigInt, Field::Json("dataSetId"), Required),
    limited(col("description", Text, Field::Json("description"), Optional), 500),
    col("schedule", Text, Field::Json("schedule"), Optional),
    limited(col("source", Text, Field::Json("source"), Optional), 255),
    limited(col("documentation", Varchar(10000), Field::Json("documentation"), Optional), 10_000),
    limited(col("created_by", Varchar(255), Field::Json("createdBy"), Optional), 255),
    col("raw_tables", Json, Field::Json("rawTables"), Optional),
    col("contacts", Json, Field::Json("contacts"), Optional),
    col("metadata", Json, Field::Json("metadata"), Optional),
    col("notification_config", Json, Field::Json("notificationConfig"), Optional),
    col("last_success", TimestampTz, Field::Json("lastSuccess"), ReadOnly),
    col("last_failure", TimestampTz, Field::Json("lastFailure"), ReadOnly),
    col("last_seen", TimestampTz, Field::Json("lastSeen"), ReadOnly),
    col("last_message", Text, Field::Json("lastMessage"), ReadOnly),
    CREATED_TIME,
    LAST_UPDATED_TIME,
];

const EXTRACTION_PIPELINE_RUNS: &[Column] = &[
    ID,
    REQUIRED_EXTERNAL_ID,
    col("status", Text, Field::Json("status"), Required),
    limited(col("message", Text, Field::Json("message"), Optional), 1000),
    col("created_time", TimestampTz, Field::Json("createdTime"), Optional),
];

const RAW_DATABASES: &[Column] =
    &[in_url_path(limited(col("_raw_database", Varchar(32), Field::Json("name"), Required), 32))];

const RAW_TABLES: &[Column] = &[
    in_url_path(limited(col("_raw_database", Varchar(32), Field::Address, Required), 32)),
    in_url_path(limited(col("_raw_table", Varchar(64), Field::Json("name"), Required), 64)),
];

const RAW_ROWS: &[Column] = &[
    in_url_path(limited(col("_raw_database", Varchar(32), Field::Address, Required), 32)),
    in_url_path(limited(col("_raw_table", Varchar(64), Field::Address, Required), 64)),
    in_url_path(limited(col("_raw_key", Text, Field::Json("key"), Required), 1024)),
    col("_raw_columns", Json, Field::Json("columns"), Required),
    col("_raw_last_updated_time", TimestampTz, Field::Json("lastUpdatedTime"), ReadOnly),
];

const fn items(max_items: usize) -> WriteKind {
    WriteKind::Items { max_items }
}

/// The node and edge writes of view tables (`POST /models/instances`, 1,000 per request). Not a
/// table (view tables are `views::ViewTable`, their columns come from the view): a resource so
/// that the concurrent `TableWriter` and `batch_scope 'transaction'` carry instance items as
/// they carry any items. Upsert stays upsert (DMS applies items as patches).
pub const INSTANCES: Resource = Resource {
    table: "models/instances",
    api_path: "models/instances",
    acl: "dataModelInstancesAcl",
    columns: &[],
    write: WriteKind::Items { max_items: limits::INSTANCES_PER_REQUEST },
    read: ReadKind::Items,
    supports_update: true,
    delete: DeleteKind::Unsupported,
    list_filters: &[],
};

pub const RESOURCES: &[Resource] = &[
    Resource {
        table: "assets",
        api_path: "assets",
        acl: "assetsAcl",
        columns: ASSETS,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: true },
        list_filters: ASSET_FILTERS,
    },
    Resource {
        table: "events",
        api_path: "events",
        acl: "eventsAcl",
        columns: EVENTS,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: true },
        list_filters: EVENT_FILTERS,
    },
    Resource {
        table: "files",
        api_path: "files",
        acl: "filesAcl",
        columns: FILES,
        write: WriteKind::File,
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: true },
        list_filters: FILE_FILTERS,
    },
    Resource {
        table: "time_series",
        api_path: "timeseries",
        acl: "timeSeriesAcl",
        columns: TIME_SERIES,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: true },
        list_filters: TIME_SERIES_FILTERS,
    },
    Resource {
        table: "double_datapoints",
        api_path: "timeseries/data",
        acl: "timeSeriesAcl",
        columns: DOUBLE_DATAPOINTS,
        write: WriteKind::Datapoints { is_string: false },
        read: ReadKind::Datapoints,
        supports_update: true,
        delete: DeleteKind::DatapointRanges,
        list_filters: &[],
    },
    Resource {
        table: "string_datapoints",
        api_path: "timeseries/data",
        acl: "timeSeriesAcl",
        columns: STRING_DATAPOINTS,
        write: WriteKind::Datapoints { is_string: true },
        read: ReadKind::Datapoints,
        supports_update: true,
        delete: DeleteKind::DatapointRanges,
        list_filters: &[],
    },
    Resource {
        table: "sequences",
        api_path: "sequences",
        acl: "sequencesAcl",
        columns: SEQUENCES,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: true },
        list_filters: SEQUENCE_FILTERS,
    },
    Resource {
        table: "sequence_rows",
        api_path: "sequences/data",
        acl: "sequencesAcl",
        columns: SEQUENCE_ROWS,
        write: WriteKind::SequenceRows,
        read: ReadKind::SequenceRows,
        supports_update: true,
        delete: DeleteKind::SequenceRows,
        list_filters: &[],
    },
    Resource {
        table: "labels",
        api_path: "labels",
        acl: "labelsAcl",
        columns: LABELS,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: false,
        delete: DeleteKind::Items { by: ItemRef::ExternalId, ignore_unknown_ids: false },
        list_filters: LABEL_FILTERS,
    },
    Resource {
        table: "relationships",
        api_path: "relationships",
        acl: "relationshipsAcl",
        columns: RELATIONSHIPS,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: true },
        list_filters: RELATIONSHIP_FILTERS,
    },
    Resource {
        table: "data_sets",
        api_path: "datasets",
        acl: "datasetsAcl",
        columns: DATA_SETS,
        write: items(limits::DATA_SETS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Unsupported,
        list_filters: DATA_SET_FILTERS,
    },
    Resource {
        table: "raw_databases",
        api_path: "raw/dbs",
        acl: "rawAcl",
        columns: RAW_DATABASES,
        write: WriteKind::RawDatabases,
        read: ReadKind::RawDatabases,
        supports_update: false,
        delete: DeleteKind::RawDatabases,
        list_filters: &[],
    },
    Resource {
        table: "raw_tables",
        api_path: "raw/dbs",
        acl: "rawAcl",
        columns: RAW_TABLES,
        write: WriteKind::RawTables,
        read: ReadKind::RawTables,
        supports_update: false,
        delete: DeleteKind::RawTables,
        list_filters: &[],
    },
    Resource {
        table: "raw_rows",
        api_path: "raw/dbs",
        acl: "rawAcl",
        columns: RAW_ROWS,
        write: WriteKind::RawRows,
        read: ReadKind::RawRows,
        supports_update: true,
        delete: DeleteKind::RawRows,
        list_filters: &[],
    },
    Resource {
        table: "extraction_pipelines",
        api_path: "extpipes",
        acl: "extractionPipelinesAcl",
        columns: EXTRACTION_PIPELINES,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::Items,
        supports_update: true,
        delete: DeleteKind::Items { by: ItemRef::IdOrExternalId, ignore_unknown_ids: false },
        list_filters: PIPELINE_FILTERS,
    },
    Resource {
        table: "extraction_pipeline_runs",
        api_path: "extpipes/runs",
        acl: "extractionRunsAcl",
        columns: EXTRACTION_PIPELINE_RUNS,
        write: items(limits::ITEMS_PER_REQUEST),
        read: ReadKind::PipelineRuns,
        supports_update: false,
        delete: DeleteKind::Unsupported,
        list_filters: &[],
    },
];

/// Looks a resource up by its table name (the `resource` table option).
pub fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.table == name)
}

pub fn resource_names() -> Vec<&'static str> {
    RESOURCES.iter().map(|r| r.table).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gateway_table_of_the_seed_page_exists() {
        for t in [
            "assets",
            "events",
            "files",
            "time_series",
            "double_datapoints",
            "string_datapoints",
            "sequences",
            "sequence_rows",
            "labels",
            "relationships",
            "data_sets",
            "raw_databases",
            "raw_tables",
            "raw_rows",
            "extraction_pipelines",
            "extraction_pipeline_runs",
        ] {
            assert!(resource(t).is_some(), "missing table {t}");
        }
        assert_eq!(RESOURCES.len(), 16);
    }

    #[test]
    fn seed_page_column_types_are_kept() {
        let ty = |t: &str, c: &str| resource(t).unwrap().column(c).unwrap().ty.sql();
        assert_eq!(ty("raw_rows", "_raw_database"), "VARCHAR(32)");
        assert_eq!(ty("raw_rows", "_raw_table"), "VARCHAR(64)");
        assert_eq!(ty("raw_rows", "_raw_key"), "TEXT");
        assert_eq!(ty("raw_rows", "_raw_columns"), "JSON");
        assert_eq!(ty("raw_rows", "_raw_last_updated_time"), "TIMESTAMPTZ");
        assert_eq!(ty("sequence_rows", "values"), "JSON");
        assert_eq!(ty("labels", "data_set_id"), "BIGINT[]");
        assert_eq!(ty("files", "directory"), "VARCHAR(512)");
        assert_eq!(ty("files", "security_categories"), "BIGINT[]");
        assert_eq!(ty("extraction_pipelines", "documentation"), "VARCHAR(10000)");
        assert_eq!(ty("extraction_pipelines", "created_by"), "VARCHAR(255)");
        assert_eq!(ty("string_datapoints", "value"), "VARCHAR(255)");
        assert_eq!(ty("double_datapoints", "value"), "DOUBLE PRECISION");
        assert_eq!(ty("double_datapoints", "external_id"), "VARCHAR(255)");
        assert_eq!(ty("assets", "created_time"), "TIMESTAMPTZ");
        assert_eq!(ty("extraction_pipeline_runs", "id"), "BIGINT");
    }

    #[test]
    fn labels_cannot_upsert_so_duplicates_stay_errors() {
        let labels = resource("labels").unwrap();
        assert_eq!(labels.effective_insert_mode(InsertMode::Upsert), InsertMode::Create);
        assert_eq!(labels.effective_insert_mode(InsertMode::Ignore), InsertMode::Ignore);
        let raw_databases = resource("raw_databases").unwrap();
        assert_eq!(raw_databases.effective_insert_mode(InsertMode::Upsert), InsertMode::Upsert);
    }

    #[test]
    fn column_names_are_unique_per_table() {
        for r in RESOURCES {
            let mut names: Vec<_> = r.columns.iter().map(|c| c.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), r.columns.len(), "duplicate column in {}", r.table);
        }
    }

    #[test]
    fn create_table_sql_quotes_reserved_words() {
        let sql = resource("double_datapoints").unwrap().create_table_sql("my server");
        assert!(sql.starts_with("CREATE FOREIGN TABLE double_datapoints ("));
        assert!(sql.contains("  \"timestamp\" pg_catalog.timestamptz NOT NULL,"), "{sql}");
        assert!(sql.ends_with("SERVER \"my server\" OPTIONS (resource 'double_datapoints')"));
    }
}
