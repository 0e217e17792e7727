package bench

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/go-redis/cache/v9"
	_ "github.com/go-redis/redis_rate/v10"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/mennanov/fieldmask-utils"
	_ "github.com/open-feature/go-sdk/openfeature"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/stout-go/stout"
)
