//! [`LastRowRule`]: lets region scans return only the newest row of each series where the
//! plan above them needs no other row ([`SeriesRowSelector::LastRow`]).
//!
//! Two shapes qualify (mito2 reaches its `LastRowSelector` from `last_value` selectors; this
//! rule covers the shapes SQL users and TSBS write):
//! - **newest time per group**: an aggregate grouping by tags only whose aggregates are all
//!   `max(<time index>)` (or none: `SELECT DISTINCT host`), directly over the scan or over
//!   row-preserving operators (repartitions, sorts) and filters on tags only (a tag predicate keeps or drops whole
//!   series). The newest row of every series holds its series' `max(ts)`, and the maximum over
//!   a group of series is the maximum of their maxima, so the extra rows the selector may keep
//!   change nothing.
//! - **rows at the newest time of their group** (TSBS `lastpoint`): an inner or semi hash join
//!   of a scan `c` of a table with such an aggregate `m` over the same table, with
//!   `c.tag = m.tag` for every grouping tag and `c.ts = m.max_ts`. A joined row's timestamp is
//!   the newest of all rows sharing its group's tags, so it is the newest row of its series:
//!   the scan of `c` may leave out every other row, before any filter above it.
//!
//! Runs first among the physical optimizer rules, on the plan as the planner built it (before
//! dynamic filters are wired to the scans; the flag survives them).

use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;

use crate::engine::region::SeriesRowSelector;
use crate::query::scan_exec::RegionScanExec;

/// The physical optimizer rule; see the module docs.
#[derive(Debug, Default)]
pub struct LastRowRule;

impl PhysicalOptimizerRule for LastRowRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if let Some(rewritten) = newest_time_per_group(&node)? {
                return Ok(Transformed::yes(rewritten));
            }
            if let Some(rewritten) = rows_at_newest_time(&node)? {
                return Ok(Transformed::yes(rewritten));
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "tsdb_last_row"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// What a column of an aggregate side's output is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// The grouping tag of this name.
    Tag(String),
    /// `max(<time index>)` of the group.
    MaxTime,
}

/// A scan below row-preserving operators, and the scan column each output column is.
struct ScanSide {
    scan: Arc<dyn ExecutionPlan>,
    columns: Vec<Option<String>>,
}

/// An aggregate side: the scan below it, its grouping tags and the role of each output column.
struct AggregateSide {
    scan: Arc<dyn ExecutionPlan>,
    group_tags: Vec<String>,
    roles: Vec<Option<Role>>,
}

/// Shape one: a partial or single aggregate over a scan; marks the scan.
fn newest_time_per_group(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if !matches!(
        aggregate.mode(),
        AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
    ) {
        return Ok(None);
    }
    let Some(side) = tag_preserving_scan(aggregate.input()) else {
        return Ok(None);
    };
    let Some(scan) = side.scan.downcast_ref::<RegionScanExec>() else {
        return Ok(None);
    };
    if scan.series_row_selector().is_some() || last_row_groups(aggregate, scan, &side).is_none() {
        return Ok(None);
    }
    let marked = mark(&side.scan)?;
    let input = replace(aggregate.input(), &side.scan, &marked)?;
    Ok(Some(
        node.clone().replace_children(vec![input], recompute())?,
    ))
}

/// The grouping tags of `aggregate` (over `side`, a scan of `scan`) if it groups by tags only
/// and computes only `max(<time index>)`.
fn last_row_groups(
    aggregate: &AggregateExec,
    scan: &RegionScanExec,
    side: &ScanSide,
) -> Option<Vec<String>> {
    let metadata = scan.region().metadata();
    let time_index = metadata.time_index_column().name.clone();
    let column_of = |expr: &Arc<dyn datafusion::physical_expr::PhysicalExpr>| {
        expr.downcast_ref::<Column>()
            .and_then(|c| side.columns.get(c.index()).cloned().flatten())
    };
    let group_by = aggregate.group_expr();
    if !group_by.is_single() || !group_by.null_expr().is_empty() {
        return None;
    }
    let mut tags = Vec::new();
    for (expr, _) in group_by.expr() {
        let name = column_of(expr)?;
        if !metadata.is_tag(&name) {
            return None;
        }
        tags.push(name);
    }
    if aggregate.filter_expr().iter().any(Option::is_some) {
        return None;
    }
    for function in aggregate.aggr_expr() {
        let arguments = function.expressions();
        let [argument] = arguments.as_slice() else {
            return None;
        };
        if !function.fun().name().eq_ignore_ascii_case("max")
            || !function.order_bys().is_empty()
            || column_of(argument)? != time_index
        {
            return None;
        }
    }
    Some(tags)
}

/// Shape two: a hash join of a scan with a newest-time-per-group aggregate of the same region
/// on all grouping tags and the time; marks the scan side.
fn rows_at_newest_time(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(join) = node.downcast_ref::<HashJoinExec>() else {
        return Ok(None);
    };
    if !matches!(
        join.join_type(),
        JoinType::Inner | JoinType::LeftSemi | JoinType::RightSemi
    ) {
        return Ok(None);
    }
    // Join keys as (left column, right column) indexes.
    let mut keys = Vec::new();
    for (left, right) in join.on() {
        match (
            left.downcast_ref::<Column>(),
            right.downcast_ref::<Column>(),
        ) {
            (Some(l), Some(r)) => keys.push((l.index(), r.index())),
            _ => return Ok(None),
        }
    }
    let swapped: Vec<(usize, usize)> = keys.iter().map(|&(l, r)| (r, l)).collect();
    for (aggregate_child, scan_child, keys, scan_is_left) in [
        (join.left(), join.right(), &keys, false),
        (join.right(), join.left(), &swapped, true),
    ] {
        let (Some(aggregate), Some(side)) = (
            aggregate_side(aggregate_child),
            row_preserving_scan(scan_child),
        ) else {
            continue;
        };
        let (Some(scan), Some(aggregated)) = (
            side.scan.downcast_ref::<RegionScanExec>(),
            aggregate.scan.downcast_ref::<RegionScanExec>(),
        ) else {
            continue;
        };
        if scan.series_row_selector().is_some() || !Arc::ptr_eq(scan.region(), aggregated.region())
        {
            continue;
        }
        let time_index = scan.region().metadata().time_index_column().name.clone();
        let joined = |role: &Role, column: &str| {
            keys.iter().any(|&(a, s)| {
                aggregate.roles.get(a).cloned().flatten().as_ref() == Some(role)
                    && side.columns.get(s).cloned().flatten().as_deref() == Some(column)
            })
        };
        let all_tags = aggregate
            .group_tags
            .iter()
            .all(|tag| joined(&Role::Tag(tag.clone()), tag));
        if !all_tags || !joined(&Role::MaxTime, &time_index) {
            continue;
        }
        let marked = mark(&side.scan)?;
        let new_scan_child = replace(scan_child, &side.scan, &marked)?;
        let children = if scan_is_left {
            vec![new_scan_child, join.right().clone()]
        } else {
            vec![join.left().clone(), new_scan_child]
        };
        return Ok(Some(node.clone().replace_children(children, recompute())?));
    }
    Ok(None)
}

/// A newest-time-per-group aggregate (final over partial, or single) below column-only
/// projections and row-preserving operators.
fn aggregate_side(plan: &Arc<dyn ExecutionPlan>) -> Option<AggregateSide> {
    if let Some(child) = pass_through(plan) {
        return aggregate_side(child);
    }
    if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        let mut side = aggregate_side(projection.input())?;
        side.roles = project(projection, &side.roles);
        return Some(side);
    }
    let aggregate = plan.downcast_ref::<AggregateExec>()?;
    let partial = match aggregate.mode() {
        AggregateMode::Final | AggregateMode::FinalPartitioned => {
            let mut input = aggregate.input();
            while let Some(child) = pass_through(input) {
                input = child;
            }
            let partial = input.downcast_ref::<AggregateExec>()?;
            (*partial.mode() == AggregateMode::Partial).then_some(partial)?
        }
        AggregateMode::Single | AggregateMode::SinglePartitioned => aggregate,
        _ => return None,
    };
    let side = tag_preserving_scan(partial.input())?;
    let scan = side.scan.downcast_ref::<RegionScanExec>()?;
    let group_tags = last_row_groups(partial, scan, &side)?;
    let mut roles: Vec<Option<Role>> = group_tags
        .iter()
        .cloned()
        .map(Role::Tag)
        .map(Some)
        .collect();
    roles.extend(aggregate.aggr_expr().iter().map(|_| Some(Role::MaxTime)));
    Some(AggregateSide {
        scan: side.scan,
        group_tags,
        roles,
    })
}

/// Operators that pass every row through unchanged, with the same columns.
fn pass_through(plan: &Arc<dyn ExecutionPlan>) -> Option<&Arc<dyn ExecutionPlan>> {
    let passes = plan.downcast_ref::<RepartitionExec>().is_some()
        || plan.downcast_ref::<CoalescePartitionsExec>().is_some()
        || plan
            .downcast_ref::<SortExec>()
            .is_some_and(|sort| sort.fetch().is_none())
        || plan
            .downcast_ref::<SortPreservingMergeExec>()
            .is_some_and(|merge| merge.fetch().is_none());
    if passes {
        plan.children().into_iter().next()
    } else {
        None
    }
}

/// A scan below row-preserving operators, column-only projections and any filters.
fn row_preserving_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<ScanSide> {
    scan_side(plan, &|_, _| true)
}

/// A scan below row-preserving operators, column-only projections and filters on tags only,
/// itself filtering no field (a field filter in the scan drops rows by value: a series'
/// newest row may fail it while an older one passes).
fn tag_preserving_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<ScanSide> {
    let side = scan_side(plan, &|scan, columns| {
        let metadata = scan.region().metadata();
        columns.iter().all(|name| metadata.is_tag(name))
    })?;
    let scan = side.scan.downcast_ref::<RegionScanExec>()?;
    scan.field_filters().is_empty().then_some(side)
}

/// The scan below `plan`; `filter_ok` decides whether a filter on the named scan columns
/// may stay between the scan and what selects rows by series.
fn scan_side(
    plan: &Arc<dyn ExecutionPlan>,
    filter_ok: &dyn Fn(&RegionScanExec, &[String]) -> bool,
) -> Option<ScanSide> {
    if let Some(scan) = plan.downcast_ref::<RegionScanExec>() {
        let columns = scan
            .schema()
            .fields()
            .iter()
            .map(|f| Some(f.name().clone()))
            .collect();
        return Some(ScanSide {
            scan: plan.clone(),
            columns,
        });
    }
    if let Some(child) = pass_through(plan) {
        return scan_side(child, filter_ok);
    }
    if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        let mut side = scan_side(projection.input(), filter_ok)?;
        side.columns = project(projection, &side.columns);
        return Some(side);
    }
    let filter = plan.downcast_ref::<FilterExec>()?;
    if filter.fetch().is_some() {
        return None;
    }
    let mut side = scan_side(filter.input(), filter_ok)?;
    let scan = side.scan.downcast_ref::<RegionScanExec>()?;
    let mut names = Vec::new();
    for column in collect_columns(filter.predicate()) {
        names.push(side.columns.get(column.index()).cloned().flatten()?);
    }
    if !filter_ok(scan, &names) {
        return None;
    }
    if let Some(projection) = filter.projection() {
        side.columns = projection
            .iter()
            .map(|&i| side.columns.get(i).cloned().flatten())
            .collect();
    }
    Some(side)
}

/// What each output column of `projection` is, given what each input column is: only bare
/// column references keep their meaning.
fn project<T: Clone>(projection: &ProjectionExec, inputs: &[Option<T>]) -> Vec<Option<T>> {
    projection
        .expr()
        .iter()
        .map(|e| {
            e.expr
                .downcast_ref::<Column>()
                .and_then(|c| inputs.get(c.index()).cloned().flatten())
        })
        .collect()
}

fn recompute() -> ReplaceChildrenOptions {
    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute)
}

/// `scan` (a [`RegionScanExec`]) with the last-row selector.
fn mark(scan: &Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    match scan.downcast_ref::<RegionScanExec>() {
        Some(scan) => Ok(Arc::new(
            scan.clone()
                .with_series_row_selector(SeriesRowSelector::LastRow),
        )),
        None => Ok(scan.clone()),
    }
}

/// `plan` with the node `old` (by identity) replaced by `new`.
fn replace(
    plan: &Arc<dyn ExecutionPlan>,
    old: &Arc<dyn ExecutionPlan>,
    new: &Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.clone()
        .transform_up(|node| {
            if Arc::ptr_eq(&node, old) {
                Ok(Transformed::yes(new.clone()))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
}
