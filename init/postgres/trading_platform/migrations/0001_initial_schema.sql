-- Advanced trading platform (seed 000): users, strategies, trades, positions,
-- with indexes on the columns the services filter by, updated_at triggers and views for common queries.
-- Amounts are NUMERIC: prices and quantities must not pick up binary floating-point error.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE users (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.-]{3,64}$'),
  email         TEXT NOT NULL UNIQUE CHECK (position('@' IN email) > 1),
  full_name     TEXT,
  password_hash TEXT,
  is_active     BOOLEAN NOT NULL DEFAULT true,
  is_admin      BOOLEAN NOT NULL DEFAULT false,
  last_login_at TIMESTAMPTZ,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE strategies (
  id            TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{1,99}$'),
  name          TEXT NOT NULL,
  description   TEXT,
  strategy_type TEXT NOT NULL CHECK (strategy_type IN ('arbitrage', 'market_making', 'momentum', 'mean_reversion', 'trend_following', 'custom')),
  parameters    JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(parameters) = 'object'),
  symbols       TEXT[] NOT NULL DEFAULT '{}',
  exchanges     TEXT[] NOT NULL DEFAULT '{}',
  is_active     BOOLEAN NOT NULL DEFAULT false,
  max_position_size NUMERIC(28, 10) CHECK (max_position_size > 0),
  created_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE trades (
  id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  symbol            TEXT NOT NULL,
  side              TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
  quantity          NUMERIC(28, 10) NOT NULL CHECK (quantity > 0),
  price             NUMERIC(28, 10) NOT NULL CHECK (price >= 0),
  fee               NUMERIC(28, 10) NOT NULL DEFAULT 0 CHECK (fee >= 0),
  fee_currency      TEXT,
  exchange          TEXT NOT NULL,
  strategy_id       TEXT REFERENCES strategies (id) ON UPDATE CASCADE ON DELETE SET NULL,
  exchange_order_id TEXT,
  status            TEXT NOT NULL DEFAULT 'FILLED' CHECK (status IN ('PENDING', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED')),
  executed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  metadata          JSONB NOT NULL DEFAULT '{}'::jsonb,
  created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX trades_symbol_executed_at_idx ON trades (symbol, executed_at DESC);
CREATE INDEX trades_strategy_executed_at_idx ON trades (strategy_id, executed_at DESC);
CREATE INDEX trades_exchange_executed_at_idx ON trades (exchange, executed_at DESC);
CREATE INDEX trades_executed_at_idx ON trades (executed_at DESC);
CREATE UNIQUE INDEX trades_exchange_order_idx ON trades (exchange, exchange_order_id) WHERE exchange_order_id IS NOT NULL;

CREATE TABLE positions (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  symbol         TEXT NOT NULL,
  exchange       TEXT NOT NULL,
  strategy_id    TEXT REFERENCES strategies (id) ON UPDATE CASCADE ON DELETE SET NULL,
  quantity       NUMERIC(28, 10) NOT NULL DEFAULT 0,
  average_price  NUMERIC(28, 10) NOT NULL DEFAULT 0 CHECK (average_price >= 0),
  realized_pnl   NUMERIC(28, 10) NOT NULL DEFAULT 0,
  unrealized_pnl NUMERIC(28, 10) NOT NULL DEFAULT 0,
  opened_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  closed_at      TIMESTAMPTZ,
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- One position per symbol, exchange and strategy; NULLS NOT DISTINCT so "no strategy" counts once too.
  CONSTRAINT positions_symbol_exchange_strategy_key UNIQUE NULLS NOT DISTINCT (symbol, exchange, strategy_id)
);

CREATE INDEX positions_strategy_idx ON positions (strategy_id);
CREATE INDEX positions_open_idx ON positions (symbol) WHERE quantity <> 0;

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER strategies_set_updated_at BEFORE UPDATE ON strategies FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trades_set_updated_at BEFORE UPDATE ON trades FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER positions_set_updated_at BEFORE UPDATE ON positions FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Positions that are still open, with their notional value at the average price.
CREATE VIEW open_positions AS
SELECT p.id, p.symbol, p.exchange, p.strategy_id, p.quantity, p.average_price,
       p.quantity * p.average_price AS notional, p.realized_pnl, p.unrealized_pnl, p.opened_at, p.updated_at
FROM positions p
WHERE p.quantity <> 0;

-- Per strategy: how much it traded and when it last did.
CREATE VIEW strategy_trade_summary AS
SELECT s.id AS strategy_id, s.name, s.is_active,
       count(t.id) AS trade_count,
       coalesce(sum(t.quantity * t.price), 0) AS traded_notional,
       coalesce(sum(t.fee), 0) AS total_fees,
       max(t.executed_at) AS last_trade_at
FROM strategies s
LEFT JOIN trades t ON t.strategy_id = s.id AND t.status IN ('FILLED', 'PARTIALLY_FILLED')
GROUP BY s.id, s.name, s.is_active;

-- Daily volume per symbol and exchange (UTC days).
CREATE VIEW daily_trade_volume AS
SELECT date_trunc('day', t.executed_at AT TIME ZONE 'UTC')::date AS trade_date,
       t.symbol, t.exchange,
       count(*) AS trade_count,
       sum(t.quantity) AS total_quantity,
       sum(t.quantity * t.price) AS notional,
       sum(t.quantity * t.price) / nullif(sum(t.quantity), 0) AS vwap
FROM trades t
WHERE t.status IN ('FILLED', 'PARTIALLY_FILLED')
GROUP BY 1, t.symbol, t.exchange;
