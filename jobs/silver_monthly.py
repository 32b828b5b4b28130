"""Monthly administrative and survey sources in silver, partitioned by period."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver import SilverTable, job
from workbench.linkage.identifiers import credit_code_valid
from workbench.linkage.standardise import address_key, name_key


def with_valid_code(df: DataFrame) -> DataFrame:
    return df.withColumn("credit_code", F.upper(F.col("credit_code"))).withColumn(
        "credit_code_valid", credit_code_valid(F.col("credit_code")))


def derive_vat(df: DataFrame) -> DataFrame:
    return with_valid_code(df)


def derive_social_insurance(df: DataFrame) -> DataFrame:
    return with_valid_code(df)


def derive_electricity(df: DataFrame) -> DataFrame:
    return df.withColumn("name_key", name_key(F.col("account_name"))).withColumn(
        "address_key", address_key(F.col("address")))


def derive_survey(df: DataFrame) -> DataFrame:
    # The form asks for 10,000 yuan (万元); silver holds yuan. Unit errors stay visible
    # (they are the quality checks' job), only the unit changes here.
    return with_valid_code(df).withColumn(
        "revenue", (F.col("revenue_10k") * F.lit(10000)).cast("decimal(20,2)"))


SPECS = [
    SilverTable("silver_vat_monthly", "vat", "silver.vat_monthly", ("credit_code", "period"), "period",
                derive_vat, "VAT sales and tax by enterprise and month, yuan"),
    SilverTable("silver_social_insurance_monthly", "social_insurance", "silver.social_insurance_monthly",
                ("unit_id", "period"), "period", derive_social_insurance,
                "Insured headcount by employer and month; clerks pseudonymised"),
    SilverTable("silver_electricity_monthly", "electricity", "silver.electricity_monthly",
                ("account_id", "period"), "period", derive_electricity,
                "kWh by account and month, with name and address match keys for linkage"),
    SilverTable("silver_survey_returns", "survey", "silver.survey_returns", ("credit_code", "period"), "period",
                derive_survey, "Survey returns: revenue in yuan, employment; respondents pseudonymised"),
]
JOBS = [job(s) for s in SPECS]
