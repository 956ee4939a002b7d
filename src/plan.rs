//! Plan-private data: what the planner decides for a scan or a modify, kept in the plan as a
//! PostgreSQL integer list so that `copyObject`, cached plans (PREPARE, plpgsql) and parallel
//! workers carry it. One struct per callback family, one round trip each; no pointers, no names.

use std::ffi::c_int;

use cdf_tables::QualOp;
use pgrx::pg_sys;
use pgrx::PgList;

/// A WHERE condition sent to CDF: `attno op value`; the value expression is the matching entry
/// of the scan's `fdw_exprs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushedCondition {
    pub attno: pg_sys::AttrNumber,
    pub op: QualOp,
}

/// `ForeignScan.fdw_private`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPrivate {
    pub conditions: Vec<PushedCondition>,
    /// Rows the query above wants at most (a LIMIT, when every condition is pushed).
    pub limit: Option<u64>,
    /// The scan returns datapoints / sequence rows newest first (`ORDER BY timestamp DESC`).
    pub descending: bool,
    /// A LIMIT given as a parameter (`LIMIT $1` in a generic plan): the last entries of
    /// `fdw_exprs` are its count and, when `ParamLimit::WithOffset`, its OFFSET.
    pub param_limit: ParamLimit,
    /// An object list CDF returns in the query's order (`sort`): the column's attribute number
    /// and whether NULLs come first (the direction is `descending`).
    pub sort: Option<(pg_sys::AttrNumber, bool)>,
}

/// How a LIMIT known only when the scan starts is kept in `fdw_exprs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamLimit {
    #[default]
    None,
    Count,
    WithOffset,
}

impl ParamLimit {
    /// How many `fdw_exprs` entries (after the conditions' values) the LIMIT takes.
    pub fn exprs(self) -> usize {
        match self {
            ParamLimit::None => 0,
            ParamLimit::Count => 1,
            ParamLimit::WithOffset => 2,
        }
    }
}

/// `ForeignScan.fdw_private` of a batched join of two tables (scanrelid 0): which side drives,
/// each side's pushed conditions (their values are `fdw_exprs`, the driving side's first), and
/// the join key. Sides are told apart by range-table order, which setrefs keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPrivate {
    /// The driving (outer) side is the join's first base relation.
    pub driver_first: bool,
    pub driver: Vec<PushedCondition>,
    pub lookup: Vec<PushedCondition>,
    /// The looked-up side's key column and the join's operator on it (`=`, `= ANY`, `&&`).
    pub lookup_key: PushedCondition,
    /// The driving side's column that gives the keys.
    pub driver_key: pg_sys::AttrNumber,
}

/// `ModifyTable.fdw_privLists[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModifyPrivate {
    /// `INSERT ... ON CONFLICT DO NOTHING`: the statement runs in insert_mode ignore.
    pub on_conflict_do_nothing: bool,
    /// The statement has RETURNING (decided at plan time: projections come after Begin).
    pub returning: bool,
    /// The attributes an UPDATE sets.
    pub updated: Vec<pg_sys::AttrNumber>,
}

unsafe fn int_list(values: impl IntoIterator<Item = i32>) -> *mut pg_sys::List {
    values.into_iter().fold(std::ptr::null_mut(), |list, v| pg_sys::lappend_int(list, v))
}

unsafe fn ints(list: *mut pg_sys::List) -> Vec<i32> {
    let len = if list.is_null() { 0 } else { (*list).length };
    (0..len).map(|i| pg_sys::list_nth_int(list, i)).collect()
}

fn op_code(op: QualOp) -> i32 {
    QualOp::ALL.iter().position(|o| *o == op).expect("ALL lists every operator") as i32
}

impl ScanPrivate {
    pub unsafe fn to_list(&self) -> *mut pg_sys::List {
        // An integer list holds i32: a larger LIMIT is as good as none.
        let limit = self.limit.and_then(|n| i32::try_from(n).ok()).unwrap_or(-1);
        let (sort_attno, nulls_first) = self.sort.map_or((0, false), |(a, n)| (i32::from(a), n));
        let head =
            [limit, i32::from(self.descending), self.param_limit.exprs() as i32, sort_attno, i32::from(nulls_first)];
        int_list(head.into_iter().chain(self.conditions.iter().flat_map(|c| [i32::from(c.attno), op_code(c.op)])))
    }

    pub unsafe fn from_list(list: *mut pg_sys::List) -> ScanPrivate {
        let values = ints(list);
        let Some((head, rest)) = values.split_at_checked(5) else { return ScanPrivate::default() };
        let conditions = rest
            .chunks_exact(2)
            .map(|pair| PushedCondition { attno: pair[0] as pg_sys::AttrNumber, op: QualOp::ALL[pair[1] as usize] })
            .collect();
        let param_limit = match head[2] {
            1 => ParamLimit::Count,
            2 => ParamLimit::WithOffset,
            _ => ParamLimit::None,
        };
        let sort = (head[3] > 0).then_some((head[3] as pg_sys::AttrNumber, head[4] != 0));
        ScanPrivate { conditions, limit: u64::try_from(head[0]).ok(), descending: head[1] != 0, param_limit, sort }
    }
}

fn condition_ints(conditions: &[PushedCondition]) -> impl Iterator<Item = i32> + '_ {
    std::iter::once(conditions.len() as i32).chain(conditions.iter().flat_map(|c| [i32::from(c.attno), op_code(c.op)]))
}

fn conditions_of(values: &mut impl Iterator<Item = i32>) -> Vec<PushedCondition> {
    let n = values.next().unwrap_or(0);
    (0..n).filter_map(|_| Some(condition_of(values.next()?, values.next()?))).collect()
}

fn condition_of(attno: i32, op: i32) -> PushedCondition {
    PushedCondition { attno: attno as pg_sys::AttrNumber, op: QualOp::ALL[op as usize] }
}

impl JoinPrivate {
    pub unsafe fn to_list(&self) -> *mut pg_sys::List {
        let key = [i32::from(self.lookup_key.attno), op_code(self.lookup_key.op), i32::from(self.driver_key)];
        int_list(
            std::iter::once(i32::from(self.driver_first))
                .chain(condition_ints(&self.driver))
                .chain(condition_ints(&self.lookup))
                .chain(key),
        )
    }

    pub unsafe fn from_list(list: *mut pg_sys::List) -> JoinPrivate {
        let mut values = ints(list).into_iter();
        let driver_first = values.next().is_some_and(|v| v != 0);
        let driver = conditions_of(&mut values);
        let lookup = conditions_of(&mut values);
        let mut next = || values.next().unwrap_or(0);
        let lookup_key = condition_of(next(), next());
        JoinPrivate { driver_first, driver, lookup, lookup_key, driver_key: next() as pg_sys::AttrNumber }
    }

    /// Whether a scan's private data is a join's (an integer list; an aggregate's holds its JSON).
    pub unsafe fn is_join(list: *mut pg_sys::List) -> bool {
        !list.is_null() && (*list).type_ == pg_sys::NodeTag::T_IntList
    }
}

impl ModifyPrivate {
    pub unsafe fn to_list(&self) -> *mut pg_sys::List {
        let flags = [i32::from(self.on_conflict_do_nothing), i32::from(self.returning)];
        int_list(flags.into_iter().chain(self.updated.iter().map(|a| i32::from(*a))))
    }

    pub unsafe fn from_list(list: *mut pg_sys::List) -> ModifyPrivate {
        let values = ints(list);
        ModifyPrivate {
            on_conflict_do_nothing: values.first().is_some_and(|v| *v != 0),
            returning: values.get(1).is_some_and(|v| *v != 0),
            updated: values.iter().skip(2).map(|a| *a as pg_sys::AttrNumber).collect(),
        }
    }
}

/// Whether the statement has a WHERE clause (or joins: UPDATE ... FROM, DELETE ... USING).
/// A WHERE that PostgreSQL evaluates locally counts too.
pub unsafe fn has_where_clause(root: *mut pg_sys::PlannerInfo) -> bool {
    let jointree = (*(*root).parse).jointree;
    !jointree.is_null()
        && (!(*jointree).quals.is_null() || PgList::<pg_sys::Node>::from_pg((*jointree).fromlist).len() > 1)
}

/// The attributes an UPDATE sets.
pub unsafe fn updated_attnos(
    root: *mut pg_sys::PlannerInfo,
    rte: *mut pg_sys::RangeTblEntry,
) -> Vec<pg_sys::AttrNumber> {
    // updatedCols is offset by FirstLowInvalidHeapAttributeNumber.
    let cols = crate::compat::updated_cols(root, rte);
    let mut updated = Vec::new();
    let mut member = -1;
    loop {
        member = pg_sys::bms_next_member(cols, member);
        if member < 0 {
            break;
        }
        let attno = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
        if attno > 0 {
            updated.push(attno as pg_sys::AttrNumber);
        }
    }
    updated
}

/// ON CONFLICT DO NOTHING and RETURNING of the statement.
pub unsafe fn statement_flags(private: &mut ModifyPrivate, plan: *mut pg_sys::ModifyTable, subplan_index: c_int) {
    // Plain values only: the plan may be cached and re-executed (PREPARE, plpgsql).
    private.on_conflict_do_nothing = (*plan).onConflictAction == pg_sys::OnConflictAction::ONCONFLICT_NOTHING;
    // RETURNING projections are built after BeginForeignModify, so decide here.
    private.returning = PgList::<pg_sys::List>::from_pg((*plan).returningLists)
        .get_ptr(subplan_index as usize)
        .is_some_and(|l| !l.is_null());
}

/// Which state `fdw_state` holds, its first field (both are `repr(C)`): iterating need not look
/// the table's options up for every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ScanKind {
    Table,
    View,
}
