"""Survey design, web-scraped, commercial and official sources in silver."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver import SilverTable, job, month_of
from workbench.config import load_settings
from workbench.linkage.identifiers import credit_code_valid
from workbench.linkage.standardise import address_key, name_key


def derive_sample(df: DataFrame) -> DataFrame:
    return df.withColumn("credit_code", F.upper(F.col("credit_code"))).withColumn(
        "credit_code_valid", credit_code_valid(F.col("credit_code")))


def derive_prices(df: DataFrame, timezone: str | None = None) -> DataFrame:
    """A quote's day is the city's calendar day: a scrape at 02:00 Beijing time is on that
    day, not on the previous UTC day."""
    zone = timezone or load_settings().lake.local_timezone
    return df.withColumn("price_date", F.to_date(F.from_utc_timestamp("scraped_at", zone))).withColumn(
        "month", month_of("price_date"))


def derive_job_ads(df: DataFrame) -> DataFrame:
    return df.withColumn("employer_key", name_key(F.col("employer_name"))).withColumn(
        "month", month_of("posted_date"))


def derive_merchants(df: DataFrame) -> DataFrame:
    return df.withColumn("name_key", name_key(F.col("merchant_name"))).withColumn(
        "address_key", address_key(F.col("address")))


def derive_cards(df: DataFrame) -> DataFrame:
    return df.withColumn("month", month_of("txn_date"))


def derive_official(df: DataFrame) -> DataFrame:
    return df


SPECS = [
    SilverTable("silver_survey_sample", "survey_sample", "silver.survey_sample", ("credit_code", "sample_year"), None,
                derive_sample, "Survey sample: selected units, strata, design weights by year"),
    SilverTable("silver_prices_daily", "prices", "silver.prices_daily", ("retailer", "product_id", "price_date"),
                "month", derive_prices, "Online prices, one quote per retailer, product and day"),
    SilverTable("silver_job_ads", "job_ads", "silver.job_ads", ("ad_id",), "month", derive_job_ads,
                "Online job ads with employer match key; contacts pseudonymised"),
    SilverTable("silver_card_merchants", "card_merchants", "silver.card_merchants", ("merchant_id",), None,
                derive_merchants, "Card merchants with MCC and name/address match keys"),
    SilverTable("silver_card_daily", "card_payments", "silver.card_daily", ("merchant_id", "txn_date"), "month",
                derive_cards, "Card payments by merchant and day"),
    SilverTable("silver_official_series", "official_series", "silver.official_series",
                ("series", "area_code", "ref_period", "vintage"), None, derive_official,
                "Published official series, every vintage"),
]
JOBS = [job(s) for s in SPECS]
