"""Build, test and release production images of Apache Airflow."""
