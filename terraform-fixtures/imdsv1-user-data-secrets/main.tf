provider "aws" {
  region = "eu-west-1"
}

resource "aws_vpc" "main" {
  cidr_block           = "10.29.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "ci-vpc" }
}

# No route table association: the subnet uses the VPC's main route table (local route only).
resource "aws_subnet" "private" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.29.10.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "private-a" }
}

resource "aws_security_group" "runner" {
  name        = "runner"
  description = "runner security group"
  vpc_id      = aws_vpc.main.id
  egress {
    description = "all egress"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = { Name = "runner" }
}

resource "aws_instance" "gitlab_runner" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  user_data_base64       = "IyEvYmluL2Jhc2gKZ2l0bGFiLXJ1bm5lciByZWdpc3RlciAtLW5vbi1pbnRlcmFjdGl2ZSAtLXVybCBodHRwczovL2dpdGxhYi5leGFtcGxlLmNvbSAtLXRva2VuIGdscnQtdDNzdFQwa2VuTjB0UmVhbFh5WjEyM2FiYyAtLWV4ZWN1dG9yIGRvY2tlcgo="
  metadata_options {
    http_tokens = "optional"
  }
  tags = { Name = "gitlab-runner-docker" }
}

resource "aws_instance" "actions_runner" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  user_data              = <<-EOF
    #!/bin/bash
    cd /opt/actions-runner
    ./config.sh --url https://github.com/example/app --pat ghp_Zx81Lk2mQ9vT4bN7cR5sW0yH3jF6dA1eGqPo --unattended
  EOF
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "actions-runner-01" }
}

resource "aws_instance" "buildkite_agent" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  user_data              = <<-EOF
    #!/bin/bash
    export AWS_ACCESS_KEY_ID=AKIAZ7XQ4N2LWP3RT5VB
    buildkite-agent start
  EOF
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "buildkite-agent-01" }
}
