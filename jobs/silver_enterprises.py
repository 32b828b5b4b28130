"""silver.enterprises: the business register, one row per credit code, latest extract wins."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver import SilverTable, job
from workbench.classification import section_col
from workbench.linkage.identifiers import credit_code_valid
from workbench.linkage.standardise import address_key, name_key


def derive_enterprises(df: DataFrame) -> DataFrame:
    return (
        df.withColumn("credit_code", F.upper(F.col("credit_code")))
        .withColumn("credit_code_valid", credit_code_valid(F.col("credit_code")))
        .withColumn("name_key", name_key(F.col("name")))
        .withColumn("address_key", address_key(F.col("address")))
        .withColumn("industry_division", F.substring(F.regexp_replace("industry_code", r"^[A-Z]", ""), 1, 2))
        .withColumn("industry_section", section_col(F.col("industry_code")))
        .withColumn("county_code", F.substring("township_code", 1, 6))
        .withColumn("active", F.col("death_date").isNull())
    )


SPEC = SilverTable(
    job="silver_enterprises", source="register", table="silver.enterprises", keys=("credit_code",), period=None,
    derive=derive_enterprises,
    description="Business register: typed, credit codes validated, match keys, legal representatives pseudonymised",
)
JOBS = [job(SPEC)]
