//! The `GapFill` logical node and its extension planner.
//!
//! `GapFill` sits directly above the aggregate of a gap-filling query. Its output schema is
//! its input's (the aggregate's columns in the same order), with the aggregate columns made
//! nullable since gap rows may hold NULL. Design from InfluxDB 3's
//! `iox_query/src/exec/gapfill/mod.rs` (`GapFill`, `plan_gap_fill`); unlike InfluxDB's node it
//! keeps the input's column order, so the projection above needs no rewiring.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{Column, DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use super::algo::FillStrategy;
use super::exec::{Bound, GapFillExec};

/// An aggregate column and how its gaps are filled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct FillExpr {
    /// The aggregate's output column.
    pub column: Column,
    /// How gaps are filled.
    pub strategy: FillStrategy,
}

/// One end of the query's time range: an expression without columns, and whether the
/// comparison included it (`>=`, `<=`) or not (`>`, `<`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct RangeBound {
    /// The bound's value (a timestamp after type coercion).
    pub expr: Expr,
    /// `true` for `>=` / `<=` / `BETWEEN`.
    pub inclusive: bool,
}

/// The gap-filling node; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GapFill {
    /// The aggregate.
    pub input: Arc<LogicalPlan>,
    /// The aggregate's grouping columns other than the time bin.
    pub series: Vec<Column>,
    /// The time bin column of the aggregate's output.
    pub time: Column,
    /// `date_bin`'s stride argument.
    pub stride: Expr,
    /// `date_bin`'s origin argument, if given.
    pub origin: Option<Expr>,
    /// The aggregate columns.
    pub fill: Vec<FillExpr>,
    /// Lower end of the query's time range.
    pub start: RangeBound,
    /// Upper end of the query's time range.
    pub end: RangeBound,
    schema: DFSchemaRef,
}

impl PartialOrd for GapFill {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.input.partial_cmp(&other.input) {
            Some(Ordering::Equal) => {}
            other => return other,
        }
        (&self.series, &self.time, &self.fill, &self.start, &self.end).partial_cmp(&(
            &other.series,
            &other.time,
            &other.fill,
            &other.start,
            &other.end,
        ))
    }
}

impl GapFill {
    /// A node over `input` (an aggregate). `series`, `time` and the fill columns must be
    /// columns of `input`.
    ///
    /// # Errors
    /// If a column is not in `input`'s schema.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        input: Arc<LogicalPlan>,
        series: Vec<Column>,
        time: Column,
        stride: Expr,
        origin: Option<Expr>,
        fill: Vec<FillExpr>,
        start: RangeBound,
        end: RangeBound,
    ) -> Result<Self> {
        let in_schema = input.schema();
        let mut nullable = vec![false; in_schema.fields().len()];
        for column in series.iter().chain(std::iter::once(&time)) {
            in_schema.index_of_column(column)?;
        }
        for f in &fill {
            nullable[in_schema.index_of_column(&f.column)?] = true;
        }
        let fields = in_schema
            .iter()
            .zip(nullable)
            .map(|((qualifier, field), nullable)| {
                let field = if nullable && !field.is_nullable() {
                    Arc::new(field.as_ref().clone().with_nullable(true))
                } else {
                    field.clone()
                };
                (qualifier.cloned(), field)
            })
            .collect::<Vec<_>>();
        let schema = DFSchema::new_with_metadata(fields, in_schema.metadata().clone())?
            .with_functional_dependencies(in_schema.functional_dependencies().clone())?;
        Ok(GapFill {
            input,
            series,
            time,
            stride,
            origin,
            fill,
            start,
            end,
            schema: Arc::new(schema),
        })
    }

    /// Sets the strategy of the fill column `column` (resolved in the input schema); the
    /// previous strategy, or `None` if `column` is not an aggregate column.
    pub fn replace_strategy(&mut self, column: &Column, strategy: FillStrategy) -> Option<()> {
        let schema = self.input.schema();
        let index = schema.index_of_column(column).ok()?;
        for f in &mut self.fill {
            if schema.index_of_column(&f.column).ok() == Some(index) {
                f.strategy = strategy;
                return Some(());
            }
        }
        None
    }
}

impl UserDefinedLogicalNodeCore for GapFill {
    fn name(&self) -> &str {
        "GapFill"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![self.input.as_ref()]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    /// `[stride, origin?, start, end]`: the scalar arguments (rewritable by the optimizer,
    /// e.g. `now()` folded); the columns are referenced by name.
    fn expressions(&self) -> Vec<Expr> {
        let mut exprs = vec![self.stride.clone()];
        exprs.extend(self.origin.clone());
        exprs.push(self.start.expr.clone());
        exprs.push(self.end.expr.clone());
        exprs
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let series: Vec<String> = self.series.iter().map(|c| c.to_string()).collect();
        let fill: Vec<String> = self
            .fill
            .iter()
            .map(|e| e.strategy.display_with(&e.column))
            .collect();
        let (open, close) = (
            if self.start.inclusive { "[" } else { "(" },
            if self.end.inclusive { "]" } else { ")" },
        );
        write!(
            f,
            "GapFill: series=[{}], time={}, stride={}, fill=[{}], range={open}{}, {}{close}",
            series.join(", "),
            self.time,
            self.stride,
            fill.join(", "),
            self.start.expr,
            self.end.expr,
        )
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let wanted = 3 + usize::from(self.origin.is_some());
        let (Ok([input]), true) = (<[LogicalPlan; 1]>::try_from(inputs), exprs.len() == wanted)
        else {
            return Err(DataFusionError::Internal(
                "GapFill: wrong number of inputs or expressions".into(),
            ));
        };
        let mut exprs = exprs.into_iter();
        let mut next = || {
            exprs
                .next()
                .ok_or_else(|| DataFusionError::Internal("GapFill: missing expression".into()))
        };
        let stride = next()?;
        let origin = match self.origin {
            Some(_) => Some(next()?),
            None => None,
        };
        let start = RangeBound {
            expr: next()?,
            inclusive: self.start.inclusive,
        };
        let end = RangeBound {
            expr: next()?,
            inclusive: self.end.inclusive,
        };
        GapFill::try_new(
            Arc::new(input),
            self.series.clone(),
            self.time.clone(),
            stride,
            origin,
            self.fill.clone(),
            start,
            end,
        )
    }
}

/// Plans [`GapFill`] nodes as [`GapFillExec`].
#[derive(Debug, Default)]
pub struct GapFillPlanner;

#[async_trait]
impl ExtensionPlanner for GapFillPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn datafusion::catalog::Session,
        planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(gap_fill) = node.as_any().downcast_ref::<GapFill>() else {
            return Ok(None);
        };
        let ([logical], [physical]) = (logical_inputs, physical_inputs) else {
            return Err(DataFusionError::Internal(
                "GapFill: expected one input".into(),
            ));
        };
        let schema = logical.schema();
        let physical_expr =
            |e: &Expr| planner.create_physical_expr(e, schema, session, planning_ctx);
        let index = |c: &Column| schema.index_of_column(c);
        let series = gap_fill.series.iter().map(index).collect::<Result<_>>()?;
        let time = index(&gap_fill.time)?;
        let fill = gap_fill
            .fill
            .iter()
            .map(|f| Ok((index(&f.column)?, f.strategy.clone())))
            .collect::<Result<Vec<_>>>()?;
        let exec = GapFillExec::try_new(
            physical.clone(),
            series,
            time,
            fill,
            physical_expr(&gap_fill.stride)?,
            gap_fill.origin.as_ref().map(physical_expr).transpose()?,
            Bound {
                expr: physical_expr(&gap_fill.start.expr)?,
                inclusive: gap_fill.start.inclusive,
            },
            Bound {
                expr: physical_expr(&gap_fill.end.expr)?,
                inclusive: gap_fill.end.inclusive,
            },
        )?;
        Ok(Some(Arc::new(exec)))
    }
}

/// DataFusion's physical planner with [`GapFillPlanner`].
#[derive(Debug, Default)]
pub struct TsdbQueryPlanner;

#[async_trait]
impl QueryPlanner for TsdbQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(GapFillPlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}
