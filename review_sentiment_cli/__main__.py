"""`python -m review_sentiment_cli`: the same as the `review-sentiment` console script."""

from review_sentiment_cli.app import main

main()
