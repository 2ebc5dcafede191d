//! The DataFusion session tsdb plans and runs queries in.

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A session with tsdb's analyzer rules (`super::coercion`; after
/// DataFusion's type coercion, [`super::time_zone::LocalTimestampLiterals`] then gap
/// filling's [`super::gapfill::rule::HandleGapFill`]),
/// the gap-filling and time functions (`super::gapfill::udf`, `super::time_functions`), a
/// query planner that plans `GapFill` nodes, and the physical rule
/// [`super::last_row::LastRowRule`], run first, on the plan as the planner built it (see its
/// docs), before DataFusion's own rules, and [`super::run_grouping::RunGroupingRule`] after
/// them (partial aggregates over a scan find groups once per run of equal keys). `sum` and
/// `avg` are DataFusion's with a run-aware groups accumulator ([`super::run_aggregate`]).
///
/// DataFusion's `information_schema` option is off: the database registers its own
/// `information_schema` schema (DataFusion's tables with GreptimeDB's `columns`), which the
/// option would shadow.
pub fn new_session() -> SessionContext {
    let config = SessionConfig::new().with_information_schema(false);
    let mut physical_rules = PhysicalOptimizer::new().rules;
    physical_rules.insert(0, Arc::new(super::last_row::LastRowRule));
    physical_rules.push(Arc::new(super::run_grouping::RunGroupingRule));
    let mut analyzer_rules = super::coercion::analyzer_rules();
    analyzer_rules.push(super::time_zone::rule());
    analyzer_rules.push(Arc::new(super::gapfill::rule::HandleGapFill));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_analyzer_rules(analyzer_rules)
        .with_physical_optimizer_rules(physical_rules)
        .with_query_planner(Arc::new(super::gapfill::node::TsdbQueryPlanner))
        .build();
    let ctx = SessionContext::new_with_state(state);
    let functions = super::gapfill::udf::functions()
        .into_iter()
        .chain(super::time_functions::functions());
    for udf in functions {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in super::run_aggregate::functions() {
        ctx.register_udaf(udaf);
    }
    ctx
}
