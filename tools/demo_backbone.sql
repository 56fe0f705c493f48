-- The quickstart's second part (tools/quickstart.sh): a pretrained network
-- imported as a domain classifies a photo with its own ImageNet classes.
-- The caller sets :photo (the photo's bytes, base64) and :backbone.
\set QUIET on
\pset footer off
\echo '== the imported network''s own ImageNet classes for a photo (cv_backbone_classify)'
SELECT name AS domain, feature_dim, input_width || 'x' || input_height AS input
  FROM cv_domains WHERE name = :'backbone';
SELECT label, round(score::numeric, 3) AS score
  FROM cv_backbone_classify(:'backbone', decode(:'photo', 'base64'), 3);
SELECT format('cv_create_project(''flowers'', domain => %L)', :'backbone') AS "a project on its features";
