//! View tables in the pgrx layer: the table's `ViewTable` (view definition fetched from CDF once
//! per backend, columns bound from the catalog on every use), Datum <-> JSON, and the scan.
//! The mapping itself is `cdf_tables::views`; the requests are `cdf_client::instances`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::CString;

use cdf_client::instances::{retrieve_views, InstanceRead};
use cdf_tables::options as opts;
use cdf_tables::value::PG_EPOCH_OFFSET_MICROS;
use cdf_tables::views::{
    iso_of_micros, pg_input_text, ColumnSqlType, DeclaredColumn, SqlType, ViewDefinition, ViewId, ViewRead, ViewTable,
};
use cdf_tables::{QualOp, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgTupleDesc;
use serde_json::{json, Value as Json};

use crate::backend;
use crate::context::{connection, def_elems, Connection};
use crate::convert::datum_to_value;
use crate::errors;

thread_local! {
    /// View definitions by server and view: a view version is immutable in DMS once it has
    /// instances, so one fetch per backend is enough (a new version is a new key).
    static VIEWS: RefCell<HashMap<(pg_sys::Oid, ViewId), ViewDefinition>> = RefCell::new(HashMap::new());
}

/// The view a view table names.
pub unsafe fn view_id_of(relid: pg_sys::Oid) -> ViewId {
    let table = pg_sys::GetForeignTable(relid);
    let options = def_elems((*table).options);
    let get = |n: &str| opts::get(&options, n).unwrap_or_default().to_string();
    ViewId { space: get("space"), external_id: get("view"), version: get("version") }
}

/// The view's definition, from the cache or `/models/views/byids`.
pub fn view_definition(conn: &Connection, id: &ViewId) -> ViewDefinition {
    let key = (conn.server_oid, id.clone());
    if let Some(v) = VIEWS.with(|c| c.borrow().get(&key).cloned()) {
        return v;
    }
    let found = backend::run(conn, async |session| retrieve_views(session, std::slice::from_ref(id)).await)
        .unwrap_or_else(|e| errors::raise_cdf(&e, Some(&format!("fetching view {} from CDF", id.describe()))));
    let Some(item) = found.into_iter().next() else {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
            format!("foreign table \"{}\" names view {}, which does not exist in CDF", conn.table_name, id.describe()),
            Some(
                "Check the table's options space, view and version (ALTER FOREIGN TABLE ... OPTIONS (SET ...)).".into(),
            ),
        )
    };
    let def = ViewDefinition::parse(&item).unwrap_or_else(|m| {
        errors::raise(PgSqlErrorCode::ERRCODE_FDW_ERROR, format!("view {}: {m}", id.describe()), None)
    });
    VIEWS.with(|c| c.borrow_mut().insert(key, def.clone()));
    def
}

/// The SQL type of a column type oid.
pub fn sql_type_of(typoid: pg_sys::Oid) -> ColumnSqlType {
    let elem = unsafe { pg_sys::get_element_type(typoid) };
    let (base, array) = if elem == pg_sys::InvalidOid { (typoid, false) } else { (elem, true) };
    let base = match base {
        pg_sys::TEXTOID => SqlType::Text,
        pg_sys::VARCHAROID => SqlType::Varchar,
        pg_sys::INT2OID => SqlType::Int2,
        pg_sys::INT4OID => SqlType::Int4,
        pg_sys::INT8OID => SqlType::Int8,
        pg_sys::FLOAT4OID => SqlType::Float4,
        pg_sys::FLOAT8OID => SqlType::Float8,
        pg_sys::BOOLOID => SqlType::Bool,
        pg_sys::TIMESTAMPTZOID => SqlType::TimestampTz,
        pg_sys::DATEOID => SqlType::Date,
        pg_sys::JSONOID => SqlType::Json,
        pg_sys::JSONBOID => SqlType::Jsonb,
        _ => SqlType::Other,
    };
    ColumnSqlType { base, array }
}

/// One live attribute of a view table.
#[derive(Debug, Clone, Copy)]
pub struct ViewBinding {
    /// attnum - 1
    pub attidx: usize,
    pub typoid: pg_sys::Oid,
    pub typmod: i32,
    input_fn: pg_sys::Oid,
    ioparam: pg_sys::Oid,
}

/// A view table ready for a scan or modify.
pub struct BoundView {
    pub conn: Connection,
    pub table: ViewTable,
    /// Parallel to `table.columns`.
    pub bindings: Vec<ViewBinding>,
}

/// Loads the view and binds the table's columns, with clear errors for columns the view does
/// not have and types that cannot hold its properties.
pub unsafe fn bind_view(rel: pg_sys::Relation, user: pg_sys::Oid) -> BoundView {
    let relid = (*rel).rd_id;
    let conn = connection(relid, user);
    let id = view_id_of(relid);
    let def = view_definition(&conn, &id);
    let (declared, bindings) = declared_columns(rel);
    let instance_space = opts::get(&conn.table_options, "instance_space").map(str::to_string);
    let table = ViewTable::bind(def, &conn.table_name, &declared, instance_space).unwrap_or_else(|e| {
        let code = if e.unknown_column {
            PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND
        } else {
            PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE
        };
        errors::raise(code, e.message, Some(e.hint))
    });
    BoundView { conn, table, bindings }
}

/// The live columns of a foreign table as declared (name, `property` option, type) and their
/// bindings (attribute index, type input function): what view tables and typed RAW tables bind.
pub unsafe fn declared_columns(rel: pg_sys::Relation) -> (Vec<DeclaredColumn>, Vec<ViewBinding>) {
    let relid = (*rel).rd_id;
    let tupdesc = PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let mut declared = Vec::new();
    let mut bindings = Vec::new();
    for (attidx, attr) in tupdesc.iter().enumerate() {
        if attr.is_dropped() {
            continue;
        }
        let column_options = def_elems(pg_sys::GetForeignColumnOptions(relid, (attidx + 1) as i16));
        let typoid = attr.type_oid().value();
        declared.push(DeclaredColumn {
            name: attr.name().to_string(),
            property: opts::get(&column_options, "property").map(str::to_string),
            sql: sql_type_of(typoid),
        });
        let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        pg_sys::getTypeInputInfo(typoid, &mut input_fn, &mut ioparam);
        bindings.push(ViewBinding { attidx, typoid, typmod: attr.atttypmod, input_fn, ioparam });
    }
    (declared, bindings)
}

/// A non-NULL Datum as the plain JSON of its PostgreSQL type.
pub unsafe fn datum_to_json(datum: pg_sys::Datum, typoid: pg_sys::Oid) -> Result<Json, String> {
    let elem = pg_sys::get_element_type(typoid);
    if elem != pg_sys::InvalidOid {
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        if (*array).ndim > 1 {
            return Err("a multi-dimensional array cannot be stored in CDF; give a one-dimensional array".into());
        }
        let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
        let (mut elems, mut nulls, mut n) = (std::ptr::null_mut(), std::ptr::null_mut(), 0);
        pg_sys::deconstruct_array(array, elem, len as i32, byval, align, &mut elems, &mut nulls, &mut n);
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            out.push(if *nulls.add(i) { Json::Null } else { scalar_to_json(*elems.add(i), elem)? });
        }
        return Ok(Json::Array(out));
    }
    scalar_to_json(datum, typoid)
}

unsafe fn scalar_to_json(datum: pg_sys::Datum, typoid: pg_sys::Oid) -> Result<Json, String> {
    if typoid == pg_sys::DATEOID {
        let days = datum.value() as i32;
        if days == i32::MAX || days == i32::MIN {
            return Err("infinite dates cannot be stored in CDF".into());
        }
        let micros = (days as i64) * 86_400_000_000 + PG_EPOCH_OFFSET_MICROS;
        return Ok(json!(iso_of_micros(micros)[..10]));
    }
    Ok(match datum_to_value(datum, typoid)? {
        Value::Int(i) => json!(i),
        Value::Double(d) if !d.is_finite() => return Err(format!("{d} cannot be stored in CDF")),
        Value::Double(d) => json!(d),
        Value::Bool(b) => json!(b),
        Value::Text(s) => json!(s),
        Value::Timestamp(us) => json!(iso_of_micros(us)),
        Value::Json(j) => j,
        other => return Err(format!("{} values are not supported in view tables", other.kind())),
    })
}

/// Plain JSON back into a Datum of the column's type, through the type's input function.
pub unsafe fn json_to_datum(v: &Json, b: &ViewBinding, sql: ColumnSqlType) -> pg_sys::Datum {
    let text = pg_input_text(v, sql.base, sql.array);
    let text = CString::new(text).unwrap_or_else(|_| {
        errors::raise(
            PgSqlErrorCode::ERRCODE_UNTRANSLATABLE_CHARACTER,
            "CDF sent a value with a NUL character".into(),
            None,
        )
    });
    pg_sys::OidInputFunctionCall(b.input_fn, text.as_ptr() as *mut _, b.ioparam, b.typmod)
}

/// The value of a slot's column as JSON (`None` for NULL), with an error naming row and column.
pub unsafe fn slot_json(
    slot: *mut pg_sys::TupleTableSlot,
    bound: &BoundView,
    row: u64,
    rows_written: u64,
) -> Vec<Option<Json>> {
    pg_sys::slot_getallattrs(slot);
    let natts = (*slot).tts_nvalid as usize;
    let datums = std::slice::from_raw_parts((*slot).tts_values, natts);
    let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
    bound
        .bindings
        .iter()
        .zip(&bound.table.columns)
        .map(|(b, c)| {
            if nulls[b.attidx] {
                return None;
            }
            Some(datum_to_json(datums[b.attidx], b.typoid).unwrap_or_else(|message| {
                raise_row(
                    &bound.conn.table_name,
                    row,
                    &c.name,
                    cdf_tables::ValueErrorKind::Invalid,
                    &message,
                    rows_written,
                )
            }))
        })
        .collect()
}

/// Raises a bad value of a view table's row.
pub fn raise_row(
    table: &str,
    row: u64,
    column: &str,
    kind: cdf_tables::ValueErrorKind,
    message: &str,
    rows_written: u64,
) -> ! {
    // ValueError names columns by &'static str; a view table's columns are the catalog's.
    let column: &'static str = Box::leak(column.to_string().into_boxed_str());
    let e = cdf_tables::ValueError { column, kind, message: message.to_string() };
    errors::raise_value(&e, table, row, rows_written)
}

/// Stores one instance as the slot's row.
pub unsafe fn store_instance(slot: *mut pg_sys::TupleTableSlot, bound: &BoundView, item: &Json) {
    pg_sys::ExecClearTuple(slot);
    let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
    let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
    let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
    nulls.fill(true);
    for ((b, c), v) in bound.bindings.iter().zip(&bound.table.columns).zip(bound.table.row_values(item)) {
        if let Some(v) = v {
            values[b.attidx] = json_to_datum(&v, b, c.sql);
            nulls[b.attidx] = false;
        }
    }
    pg_sys::ExecStoreVirtualTuple(slot);
}

// ------------------------------------------------------------------------------------- scan

/// A view table's scan: pushed conditions (column index into the table, operator, value
/// expression and its type), and the read in progress.
#[repr(C)]
pub struct ViewScan {
    /// First, as in `scan::ScanState`: tells the two apart behind `fdw_state`.
    pub kind: crate::plan::ScanKind,
    pub bound: BoundView,
    pub conditions: Vec<(String, QualOp, *mut pg_sys::ExprState, pg_sys::Oid)>,
    pub econtext: *mut pg_sys::ExprContext,
    read: Option<InstanceRead>,
    page: VecDeque<Json>,
}

/// Whether a condition on this column can narrow a view-table read. Identity columns always;
/// properties with `=`, `IN` and ranges (the value's type was checked against the column's), and
/// node references (an edge's type and end nodes, direct relations) with `=` and `IN`;
/// `cdf_tables::views::plan_read` leaves out what DMS cannot answer.
pub fn pushable(column: &str, _op: QualOp) -> bool {
    !matches!(column, "version" | "created_time" | "last_updated_time")
}

impl ViewScan {
    pub fn new(
        bound: BoundView,
        conditions: Vec<(String, QualOp, *mut pg_sys::ExprState, pg_sys::Oid)>,
        econtext: *mut pg_sys::ExprContext,
    ) -> ViewScan {
        ViewScan { kind: crate::plan::ScanKind::View, bound, conditions, econtext, read: None, page: VecDeque::new() }
    }

    pub fn reset(&mut self) {
        self.read = None;
        self.page.clear();
    }

    /// Evaluates the pushed conditions and plans the read.
    unsafe fn start(&mut self) {
        let mut quals = Vec::new();
        for (column, op, state, typoid) in &self.conditions {
            let mut isnull = false;
            let datum = pg_sys::ExecEvalExprSwitchContext(*state, self.econtext, &mut isnull);
            let value = if isnull { Json::Null } else { datum_to_json(datum, *typoid).unwrap_or(Json::Null) };
            quals.push((column.clone(), *op, value));
        }
        self.read = Some(plan_view_read(&self.bound.table, &quals));
    }

    /// The next instance, fetching pages as needed.
    pub unsafe fn next(&mut self) -> Option<Json> {
        if self.read.is_none() {
            self.start();
        }
        loop {
            if let Some(item) = self.page.pop_front() {
                return Some(item);
            }
            let ViewScan { bound, read, .. } = self;
            let read = read.as_mut()?;
            match backend::run(&bound.conn, async |session| read.next_page(session).await) {
                Ok(Some(items)) => self.page.extend(items),
                Ok(None) => return None,
                Err(e) => errors::raise_cdf(&e, Some(&format!("reading CDF view table \"{}\"", bound.conn.table_name))),
            }
        }
    }
}

/// The read of a view-table scan with these evaluated conditions (`cdf_tables::views`).
pub fn plan_view_read(table: &ViewTable, quals: &[(String, QualOp, Json)]) -> InstanceRead {
    match cdf_tables::views::plan_read(table, quals) {
        ViewRead::ByIds(ids) => InstanceRead::by_ids(ids, table.sources()),
        ViewRead::List(filter) => InstanceRead::list(table.instance_type(), table.sources(), filter),
    }
}

/// EXPLAIN of a view-table scan: the request that goes to CDF and the DMS filter it sends
/// (or how many nodes byids asks for). Constant condition values are shown as they are; a
/// parameter's value is only known when the scan starts, and shows as "?".
pub unsafe fn explain_read(
    node: *mut pg_sys::ForeignScanState,
    conditions: &[(String, QualOp)],
    es: *mut pg_sys::ExplainState,
) {
    let owned;
    let bound = match ((*node).fdw_state as *mut ViewScan).as_ref() {
        Some(state) => &state.bound,
        None => {
            owned = bind_view((*node).ss.ss_currentRelation, crate::compat::scan_user(node));
            &owned
        }
    };
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let exprs = pgrx::PgList::<pg_sys::Node>::from_pg((*plan).fdw_exprs);
    let quals: Vec<(String, QualOp, Json)> = conditions
        .iter()
        .zip(exprs.iter_ptr())
        .map(|((column, op), expr)| {
            let value = if (*expr).type_ == pg_sys::NodeTag::T_Const {
                let c = expr as *mut pg_sys::Const;
                if (*c).constisnull {
                    Json::Null
                } else {
                    datum_to_json((*c).constvalue, (*c).consttype).unwrap_or(Json::Null)
                }
            } else if *op == QualOp::In {
                json!(["?"])
            } else {
                json!("?")
            };
            (column.clone(), *op, value)
        })
        .collect();
    let property = |name: &std::ffi::CStr, value: String| {
        let value = CString::new(value).unwrap_or_default();
        pg_sys::ExplainPropertyText(name.as_ptr(), value.as_ptr(), es);
    };
    match cdf_tables::views::plan_read(&bound.table, &quals) {
        ViewRead::ByIds(ids) if ids.is_empty() => property(c"CDF Request", "none (no node can match)".into()),
        ViewRead::ByIds(ids) => {
            property(c"CDF Request", "POST /models/instances/byids".into());
            pg_sys::ExplainPropertyInteger(c"CDF Instance Ids".as_ptr(), std::ptr::null(), ids.len() as i64, es);
        }
        ViewRead::List(filter) => {
            property(c"CDF Request", "POST /models/instances/list".into());
            property(c"CDF Filter", filter.map_or_else(|| "none".into(), |f| f.to_string()));
        }
    }
}

/// `IterateForeignScan` of a view table.
pub unsafe fn iterate(node: *mut pg_sys::ForeignScanState) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    let Some(state) = ((*node).fdw_state as *mut ViewScan).as_mut() else {
        return slot;
    };
    if let Some(item) = state.next() {
        store_instance(slot, &state.bound, &item);
    }
    slot
}

/// IMPORT FOREIGN SCHEMA "space/model/version": one view table per view of the data model,
/// named as the view, with every property (inherited ones included); LIMIT TO / EXCEPT name
/// views; the statement's option `instance_space` becomes each table's.
pub unsafe fn import_data_model(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
    model: &ViewId,
) -> *mut pg_sys::List {
    let options = def_elems((*stmt).options);
    for (name, _) in &options {
        if name != "instance_space" {
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_OPTION_NAME,
                format!("invalid option \"{name}\" for IMPORT FOREIGN SCHEMA from a data model"),
                Some("Valid options: instance_space.".into()),
            );
        }
    }
    let instance_space = opts::get(&options, "instance_space").map(str::to_string);
    let what = format!("data model {}", model.describe());
    let conn = crate::context::server_connection(server_oid, what.clone(), Vec::new(), pg_sys::InvalidOid);
    let found = backend::run(&conn, async |session| cdf_client::instances::retrieve_data_model(session, model).await)
        .unwrap_or_else(|e| errors::raise_cdf(&e, Some(&format!("fetching {what}"))));
    let Some(found) = found else {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_SCHEMA_NOT_FOUND,
            format!("CDF has no {what}"),
            Some("Name the data model as \"space/externalId/version\", e.g. \"cdf_cdm/CogniteCore/v1\".".into()),
        )
    };
    let view_ids: Vec<ViewId> =
        found.get("views").and_then(Json::as_array).into_iter().flatten().filter_map(ViewId::of_json).collect();
    let listed: Vec<String> = pgrx::PgList::<pg_sys::RangeVar>::from_pg((*stmt).table_list)
        .iter_ptr()
        .map(|rv| std::ffi::CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
        .collect();
    for name in &listed {
        if !view_ids.iter().any(|v| &v.external_id == name) {
            let names: Vec<&str> = view_ids.iter().map(|v| v.external_id.as_str()).collect();
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
                format!("{what} has no view \"{name}\""),
                Some(format!("Views: {}.", names.join(", "))),
            );
        }
    }
    let wanted = |name: &str| match (*stmt).list_type {
        pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO => listed.iter().any(|n| n == name),
        pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_EXCEPT => !listed.iter().any(|n| n == name),
        _ => true,
    };
    let chosen: Vec<ViewId> = view_ids.into_iter().filter(|v| wanted(&v.external_id)).collect();
    let server = pg_sys::GetForeignServer(server_oid);
    let server_name = std::ffi::CStr::from_ptr((*server).servername).to_string_lossy().into_owned();
    let schema = std::ffi::CStr::from_ptr((*stmt).local_schema).to_string_lossy().into_owned();
    let mut statements = pgrx::PgList::<std::ffi::c_char>::new();
    for id in &chosen {
        let def = view_definition(&conn, id);
        let sql = ViewTable::create_table_sql(&def, &id.external_id, &server_name, &schema, instance_space.as_deref());
        // Core frees the list with pfree: palloc'd copies.
        let sql = CString::new(sql).expect("no NUL in generated SQL");
        statements.push(pg_sys::pstrdup(sql.as_ptr()));
    }
    statements.into_pg()
}

/// `cdf.create_space(server, space, name, description)`: creates (or renames) a data-modeling
/// space with the caller's user mapping of the server, so a DBA can go from IMPORT FOREIGN
/// SCHEMA to INSERT without the CDF UI. CDF checks the identity's dataModelsAcl.
pub fn create_space(
    server_name: &str,
    space: &str,
    name: Option<&str>,
    description: Option<&str>,
) -> (String, Option<String>, Option<String>, Option<pgrx::datum::TimestampWithTimeZone>) {
    let server_cname = CString::new(server_name).unwrap_or_default();
    let server = unsafe { pg_sys::GetForeignServerByName(server_cname.as_ptr(), true) };
    if server.is_null() {
        errors::raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("server \"{server_name}\" does not exist"),
            None,
        );
    }
    let what = format!("space \"{space}\"");
    let conn =
        unsafe { crate::context::server_connection((*server).serverid, what.clone(), Vec::new(), pg_sys::InvalidOid) };
    let answer = backend::run(&conn, async |session| {
        cdf_client::instances::apply_space(session, space, name, description).await
    })
    .unwrap_or_else(|e| errors::raise_cdf(&e, Some(&format!("creating {what} in CDF"))));
    let answer = answer.unwrap_or_else(|| json!({"space": space}));
    let text = |k: &str| answer.get(k).and_then(Json::as_str).map(str::to_string);
    let created = answer.get("createdTime").and_then(Json::as_i64).and_then(|ms| {
        // PostgreSQL's epoch is 2000-01-01.
        let micros = ms * 1000 - PG_EPOCH_OFFSET_MICROS;
        pgrx::datum::TimestampWithTimeZone::try_from(micros).ok()
    });
    (text("space").unwrap_or_else(|| space.to_string()), text("name"), text("description"), created)
}
