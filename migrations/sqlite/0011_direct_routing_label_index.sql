-- The routing lookup finds the account that holds a Direct Routing subdomain label (any case)
-- through this index instead of reading every account.
CREATE INDEX accounts_dr_subdomain_lower ON accounts (LOWER(dr_subdomain));
