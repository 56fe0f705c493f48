-- tools/load_predict.sql: the pgbench transaction of tools/load.sh, one
-- prediction by project name of a photo drawn from the shared set
-- (load_photos, ids 1..:nphotos); it must return a row per tag (:ntags).
\set id random(1, :nphotos)
SELECT load_expect_rows(count(*), :ntags)
  FROM cv_predict('load', (SELECT photo FROM load_photos WHERE id = :id));
