//! `ALTER TABLE` column changes and rename, in GreptimeDB's syntax
//! (`src/sql/src/parsers/alter_parser.rs`):
//!
//! ```text
//! ALTER TABLE t ADD [COLUMN] [IF NOT EXISTS] <column_def> [FIRST | AFTER c] [, ADD ...]
//! ALTER TABLE t DROP COLUMN c
//! ALTER TABLE t MODIFY COLUMN c <type>
//! ALTER TABLE t MODIFY COLUMN c SET DEFAULT v [, MODIFY COLUMN d SET DEFAULT w ...]
//! ALTER TABLE t MODIFY COLUMN c DROP DEFAULT [, MODIFY COLUMN d DROP DEFAULT ...]
//! ALTER TABLE t RENAME [TO] new_name
//! ```
//!
//! `<column_def>` is a `CREATE TABLE` column (`NULL`, `NOT NULL`, `DEFAULT`, `COMMENT`,
//! `PRIMARY KEY` for a new tag). `RENAME TO` is accepted besides GreptimeDB's `RENAME`.
//! GreptimeDB has no column rename: `RENAME COLUMN` is refused, as are the forms tsdb
//! does not implement (`ALTER COLUMN`, `MODIFY COLUMN c SET/UNSET ... INDEX`, partitions). Table
//! options (`SET`/`UNSET`) are another statement.

use sqlparser::tokenizer::Token;

use super::create_table::{default_text, parse_column_def};
use super::{Ctx, data_type, describe, is_keyword, is_word};
use crate::engine::metadata::SemanticType;
use crate::sql::error::{Error, Result};
use crate::sql::statement::{
    AddColumn, AddColumnLocation, AlterTable, AlterTableOperation, ColumnDef,
};

/// Parses `ALTER TABLE ...` (the caller checked the first two words).
pub(super) fn parse(ctx: &mut Ctx<'_>) -> Result<AlterTable> {
    ctx.expect_words(&["ALTER", "TABLE"])?;
    let table = ctx.parse_table_name()?;
    let next = ctx.parser.peek_token();
    let operation = if ctx.peek_words(&["ADD"]) {
        parse_add_columns(ctx, &table)?
    } else if ctx.parse_words(&["DROP"]) {
        if !ctx.parse_words(&["COLUMN"]) {
            return Err(ctx.expected("COLUMN after DROP"));
        }
        AlterTableOperation::DropColumn {
            name: ctx.parse_ident("a column name")?.0,
        }
    } else if ctx.peek_words(&["MODIFY"]) {
        parse_modify(ctx, &table)?
    } else if ctx.parse_words(&["RENAME"]) {
        if ctx.peek_words(&["COLUMN"]) {
            return Err(ctx.error_at(
                "ALTER TABLE ... RENAME COLUMN is not supported (GreptimeDB cannot rename \
                 columns either): add a new column and drop the old one",
                &ctx.parser.peek_token(),
            ));
        }
        // GreptimeDB writes `RENAME new_name`; MySQL's `RENAME TO new_name` also works.
        if ctx.peek_words(&["TO"]) && ctx.parser.peek_nth_token_ref(1).token != Token::EOF {
            ctx.parser.next_token();
        }
        AlterTableOperation::RenameTable {
            new_name: ctx.parse_table_name()?,
        }
    } else if ["SET", "UNSET"].iter().any(|w| is_word(&next.token, w)) {
        return Err(ctx.error_at(
            format!(
                "ALTER TABLE ... {} (table options) is not supported",
                describe(&next)
            ),
            &next,
        ));
    } else {
        return Err(
            ctx.expected("ADD, DROP COLUMN, MODIFY COLUMN or RENAME after ALTER TABLE <name>")
        );
    };
    Ok(AlterTable { table, operation })
}

/// `MODIFY COLUMN c <type>`, or a list of `MODIFY COLUMN c SET DEFAULT v` or of
/// `MODIFY COLUMN c DROP DEFAULT` (GreptimeDB's `parse_alter_table_modify`).
fn parse_modify(ctx: &mut Ctx<'_>, table: &str) -> Result<AlterTableOperation> {
    let mut defaults = Vec::new();
    loop {
        ctx.expect_words(&["MODIFY"])?;
        if !ctx.parse_words(&["COLUMN"]) {
            return Err(ctx.expected("COLUMN after MODIFY"));
        }
        let name = ctx.parse_ident("a column name")?.0;
        let default = if ctx.parse_words(&["SET", "DEFAULT"]) {
            let expr = ctx
                .parser
                .parse_expr()
                .map_err(|err| ctx.parser_error(err))?;
            Some(default_text(&expr, &name, table)?)
        } else if ctx.parse_words(&["DROP", "DEFAULT"]) {
            None
        } else {
            let after = ctx.parser.peek_token();
            if ["SET", "UNSET", "DROP"]
                .iter()
                .any(|w| is_word(&after.token, w))
            {
                return Err(ctx.error_at(
                    format!(
                        "ALTER TABLE ... MODIFY COLUMN {name} {} is not supported (tsdb has no \
                         secondary indexes); MODIFY COLUMN {name} <type>, SET DEFAULT and DROP \
                         DEFAULT are",
                        describe(&after)
                    ),
                    &after,
                ));
            }
            if !defaults.is_empty() {
                return Err(ctx.expected("SET DEFAULT or DROP DEFAULT"));
            }
            let data_type = data_type::parse(ctx, table, &name)?;
            return Ok(AlterTableOperation::ModifyColumnType { name, data_type });
        };
        if defaults
            .first()
            .is_some_and(|(_, first): &(String, Option<String>)| {
                first.is_some() != default.is_some()
            })
        {
            return Err(Error::invalid_ddl(format!(
                "Invalid alter table({table}) request: SET DEFAULT and DROP DEFAULT cannot be \
                 mixed in one statement"
            )));
        }
        defaults.push((name, default));
        if !ctx.parser.consume_token(&Token::Comma) {
            return Ok(AlterTableOperation::SetDefaults(defaults));
        }
    }
}

/// `ADD [COLUMN] [IF NOT EXISTS] <column_def> [FIRST | AFTER c]`, comma separated.
fn parse_add_columns(ctx: &mut Ctx<'_>, table: &str) -> Result<AlterTableOperation> {
    let mut columns = Vec::new();
    loop {
        ctx.expect_words(&["ADD"])?;
        let _ = ctx.parse_words(&["COLUMN"]);
        let if_not_exists = ctx.parse_words(&["IF", "NOT", "EXISTS"]);
        let next = ctx.parser.peek_token();
        if ["PRIMARY", "CONSTRAINT", "UNIQUE", "INDEX", "KEY", "TIME"]
            .iter()
            .any(|w| is_word(&next.token, w))
            && let Token::Word(word) = &next.token
            && is_keyword(word)
        {
            return Err(ctx.error_at(
                format!(
                    "ALTER TABLE ... ADD {} (a table constraint) is not supported; add a \
                     tag with ADD COLUMN c STRING PRIMARY KEY",
                    describe(&next)
                ),
                &next,
            ));
        }
        let column = parse_column_def(ctx, table, true)?;
        if column.time_index {
            return Err(Error::invalid_ddl(format!(
                "Invalid alter table({table}) request: cannot add time index column {}",
                column.name
            )));
        }
        let location = if ctx.parse_words(&["FIRST"]) {
            Some(AddColumnLocation::First)
        } else if ctx.parse_words(&["AFTER"]) {
            Some(AddColumnLocation::After(
                ctx.parse_ident("a column name")?.0,
            ))
        } else {
            None
        };
        columns.push(AddColumn {
            column: ColumnDef {
                semantic_type: if column.primary_key {
                    SemanticType::Tag
                } else {
                    SemanticType::Field
                },
                nullable: column.null != Some(false),
                name: column.name,
                data_type: column.data_type,
                default: column.default,
                comment: column.comment,
            },
            location,
            if_not_exists,
        });
        if !ctx.parser.consume_token(&Token::Comma) {
            break;
        }
    }
    Ok(AlterTableOperation::AddColumns(columns))
}

#[cfg(test)]
mod tests {
    use crate::engine::metadata::{ColumnDataType, SemanticType};
    use crate::sql::parse_statement;
    use crate::sql::statement::{AddColumnLocation, AlterTableOperation, Statement};

    fn operation(sql: &str) -> AlterTableOperation {
        match parse_statement(sql).unwrap() {
            Statement::AlterTable(alter) => alter.operation,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn error(sql: &str) -> String {
        parse_statement(sql).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_form() {
        let AlterTableOperation::AddColumns(columns) = operation(
            "ALTER TABLE public.t ADD COLUMN IF NOT EXISTS \"Dc\" STRING NOT NULL DEFAULT 'x' \
             PRIMARY KEY FIRST, ADD v DOUBLE AFTER ts, ADD w INT;",
        ) else {
            panic!("not ADD");
        };
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0].column.name, "Dc");
        assert_eq!(columns[0].column.semantic_type, SemanticType::Tag);
        assert!(!columns[0].column.nullable);
        assert_eq!(columns[0].column.default.as_deref(), Some("'x'"));
        assert!(columns[0].if_not_exists);
        assert_eq!(columns[0].location, Some(AddColumnLocation::First));
        assert_eq!(columns[1].column.data_type, ColumnDataType::Float64);
        assert_eq!(
            columns[1].location,
            Some(AddColumnLocation::After("ts".into()))
        );
        assert_eq!(columns[2].location, None);
        assert!(columns[2].column.nullable);
        assert_eq!(
            operation("ALTER TABLE t DROP COLUMN V"),
            AlterTableOperation::DropColumn { name: "v".into() }
        );
        assert_eq!(
            operation("ALTER TABLE t MODIFY COLUMN v STRING"),
            AlterTableOperation::ModifyColumnType {
                name: "v".into(),
                data_type: ColumnDataType::String
            }
        );
        assert_eq!(
            operation(
                "ALTER TABLE t MODIFY COLUMN a SET DEFAULT -1, MODIFY COLUMN b SET DEFAULT now()"
            ),
            AlterTableOperation::SetDefaults(vec![
                ("a".into(), Some("-1".into())),
                ("b".into(), Some("now()".into()))
            ])
        );
        assert_eq!(
            operation("ALTER TABLE t MODIFY COLUMN a DROP DEFAULT"),
            AlterTableOperation::SetDefaults(vec![("a".into(), None)])
        );
        for sql in ["ALTER TABLE t RENAME t2", "ALTER TABLE t RENAME TO t2"] {
            assert_eq!(
                operation(sql),
                AlterTableOperation::RenameTable {
                    new_name: "t2".into()
                }
            );
        }
    }

    #[test]
    fn refuses_other_forms() {
        assert!(
            error("ALTER TABLE t RENAME COLUMN a TO b").contains("RENAME COLUMN is not supported")
        );
        assert!(error("ALTER TABLE t DROP a").contains("Expected COLUMN after DROP"));
        assert!(error("ALTER TABLE t ADD PRIMARY KEY (a)").contains("a table constraint"));
        assert!(error("ALTER TABLE t ADD COLUMN a INT,").contains("ADD"));
        assert!(error("ALTER TABLE t ADD COLUMN a NOSUCHTYPE").contains("NOSUCHTYPE"));
        assert!(error("ALTER TABLE t MODIFY COLUMN a INT, MODIFY COLUMN b INT").contains("end"));
        assert!(error("ALTER TABLE t ADD COLUMN ts2 TIMESTAMP TIME INDEX").contains("time index"));
        assert!(error("ALTER TABLE t CHANGE a b INT").contains("ADD, DROP COLUMN, MODIFY COLUMN"));
        assert!(error("ALTER TABLE t ADD COLUMN a INT DEFAULT now").contains("Invalid default"));
    }
}
