-- The catalogue's indicators (one parameter set per indicator).
INSERT INTO ref_indicator (indicator_code, display_order, name_vi, short_name_vi, alias_of, ytd_method)
VALUES (:code, :display_order, :name_vi, :short_name_vi, :alias_of, :ytd_method);
