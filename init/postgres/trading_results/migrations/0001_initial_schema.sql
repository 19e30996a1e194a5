-- Trading simulation results (seed 002): simulation runs with their performance metrics, the trades
-- each run made and its final positions. Configurations live in MongoDB (trading_configs); a run
-- points at them by config_id, algorithm and simulator version.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE simulation_runs (
  id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  run_name          TEXT,
  config_id         TEXT,
  algorithm_name    TEXT NOT NULL,
  algorithm_version TEXT NOT NULL,
  simulator_version TEXT,
  status            TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
  symbols           TEXT[] NOT NULL DEFAULT '{}',
  period_start      TIMESTAMPTZ,
  period_end        TIMESTAMPTZ,
  initial_capital   NUMERIC(28, 10) NOT NULL CHECK (initial_capital > 0),
  final_capital     NUMERIC(28, 10),
  total_return      NUMERIC(18, 10),
  annualized_return NUMERIC(18, 10),
  sharpe_ratio      NUMERIC(18, 10),
  sortino_ratio     NUMERIC(18, 10),
  max_drawdown      NUMERIC(18, 10) CHECK (max_drawdown IS NULL OR max_drawdown BETWEEN 0 AND 1),
  win_rate          NUMERIC(18, 10) CHECK (win_rate IS NULL OR win_rate BETWEEN 0 AND 1),
  total_trades      INTEGER NOT NULL DEFAULT 0 CHECK (total_trades >= 0),
  parameters        JSONB NOT NULL DEFAULT '{}'::jsonb,
  metrics           JSONB NOT NULL DEFAULT '{}'::jsonb,
  error_message     TEXT,
  started_at        TIMESTAMPTZ,
  completed_at      TIMESTAMPTZ,
  created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK (period_end IS NULL OR period_start IS NULL OR period_end >= period_start),
  CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at)
);

CREATE INDEX simulation_runs_status_idx ON simulation_runs (status, created_at DESC);
CREATE INDEX simulation_runs_algorithm_idx ON simulation_runs (algorithm_name, algorithm_version, created_at DESC);
CREATE INDEX simulation_runs_config_idx ON simulation_runs (config_id);
CREATE INDEX simulation_runs_created_at_idx ON simulation_runs (created_at DESC);

CREATE TABLE trades (
  id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  simulation_run_id UUID NOT NULL REFERENCES simulation_runs (id) ON DELETE CASCADE,
  symbol            TEXT NOT NULL,
  side              TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
  quantity          NUMERIC(28, 10) NOT NULL CHECK (quantity > 0),
  price             NUMERIC(28, 10) NOT NULL CHECK (price >= 0),
  fee               NUMERIC(28, 10) NOT NULL DEFAULT 0 CHECK (fee >= 0),
  realized_pnl      NUMERIC(28, 10),
  executed_at       TIMESTAMPTZ NOT NULL,
  metadata          JSONB NOT NULL DEFAULT '{}'::jsonb,
  created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX trades_run_executed_at_idx ON trades (simulation_run_id, executed_at);
CREATE INDEX trades_symbol_executed_at_idx ON trades (symbol, executed_at DESC);

CREATE TABLE positions (
  id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  simulation_run_id UUID NOT NULL REFERENCES simulation_runs (id) ON DELETE CASCADE,
  symbol            TEXT NOT NULL,
  quantity          NUMERIC(28, 10) NOT NULL,
  average_price     NUMERIC(28, 10) NOT NULL CHECK (average_price >= 0),
  market_price      NUMERIC(28, 10),
  realized_pnl      NUMERIC(28, 10) NOT NULL DEFAULT 0,
  unrealized_pnl    NUMERIC(28, 10) NOT NULL DEFAULT 0,
  created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT positions_run_symbol_key UNIQUE (simulation_run_id, symbol)
);

CREATE TRIGGER simulation_runs_set_updated_at BEFORE UPDATE ON simulation_runs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trades_set_updated_at BEFORE UPDATE ON trades FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER positions_set_updated_at BEFORE UPDATE ON positions FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per run with its trade activity next to its headline metrics.
CREATE VIEW simulation_run_summary AS
SELECT r.id, r.run_name, r.algorithm_name, r.algorithm_version, r.status,
       r.initial_capital, r.final_capital, r.total_return, r.sharpe_ratio, r.max_drawdown, r.win_rate,
       count(t.id) AS trade_count,
       coalesce(sum(t.quantity * t.price), 0) AS traded_notional,
       coalesce(sum(t.fee), 0) AS total_fees,
       r.completed_at - r.started_at AS duration,
       r.created_at
FROM simulation_runs r
LEFT JOIN trades t ON t.simulation_run_id = r.id
GROUP BY r.id;

-- Completed runs ranked by return within each algorithm version.
CREATE VIEW algorithm_leaderboard AS
SELECT r.algorithm_name, r.algorithm_version, r.id AS simulation_run_id, r.total_return, r.sharpe_ratio, r.max_drawdown,
       rank() OVER (PARTITION BY r.algorithm_name, r.algorithm_version ORDER BY r.total_return DESC NULLS LAST) AS return_rank
FROM simulation_runs r
WHERE r.status = 'COMPLETED';
