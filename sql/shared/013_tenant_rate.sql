-- A tenant's own request rate at each gateway (requests a second; 0: unlimited), set by the
-- platform (PUT /api/tenants/{id}/rate); NULL: the gateways' --tenant-rate. Gateways read the
-- overrides every few seconds (the internal tenant_rates operation).
ALTER TABLE quiz.tenants ADD COLUMN rate_limit integer
    CHECK (rate_limit IS NULL OR rate_limit BETWEEN 0 AND 1000000);
CREATE INDEX tenants_rate_idx ON quiz.tenants (id) INCLUDE (rate_limit)
    WHERE rate_limit IS NOT NULL AND status = 'active';
