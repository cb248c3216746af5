-- The BI role reads the whole catalogue, source precedence included (V007).
GRANT SELECT ON ref_source_precedence TO tthc_bi;
