-- Reference strategies (inactive until someone turns them on). ON CONFLICT DO NOTHING: a re-run never
-- overwrites a strategy that users have edited, and never re-creates one they renamed.
INSERT INTO strategies (id, name, description, strategy_type, parameters, symbols, exchanges, is_active)
VALUES
  ('arbitrage-btc-usdt', 'BTC/USDT cross-exchange arbitrage',
   'Buys BTC/USDT on the cheaper exchange and sells on the dearer one when the spread covers fees.',
   'arbitrage', '{"min_spread_bps": 15, "max_order_quantity": 0.5}', '{BTC/USDT}', '{binance,coinbase,kraken}', false),
  ('arbitrage-eth-usdt', 'ETH/USDT cross-exchange arbitrage',
   'Buys ETH/USDT on the cheaper exchange and sells on the dearer one when the spread covers fees.',
   'arbitrage', '{"min_spread_bps": 20, "max_order_quantity": 5}', '{ETH/USDT}', '{binance,coinbase,kraken}', false),
  ('market-making-btc-usdt', 'BTC/USDT market making',
   'Quotes both sides of the BTC/USDT book around the mid price.',
   'market_making', '{"spread_bps": 10, "order_quantity": 0.05, "max_inventory": 1}', '{BTC/USDT}', '{binance}', false),
  ('momentum-majors', 'Momentum on majors',
   'Follows short-term momentum on the most liquid pairs.',
   'momentum', '{"lookback_minutes": 60, "entry_zscore": 2.0, "exit_zscore": 0.5}', '{BTC/USDT,ETH/USDT}', '{binance}', false)
ON CONFLICT (id) DO NOTHING;
